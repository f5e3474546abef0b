import {
  CanActivate,
  createParamDecorator,
  DynamicModule,
  ExecutionContext,
  Global,
  Inject,
  Injectable,
  Module,
  Optional,
  Provider,
} from '@nestjs/common';
import type { Request } from 'express';
import { Database, DATABASE } from '@khala/platform';
import { isApiToken } from './api-token';
import { AuthError } from './auth.error';
import { Principal } from './claims';
import { KeyRing } from './key-ring';
import {
  API_TOKEN_RESOLVER,
  ApiTokenResolver,
  PostgresApiTokenResolver,
  PostgresRevocationChecker,
} from './postgres-auth-stores';
import { TokenService } from './token-service';

/**
 * Whether a session or device was revoked. Implemented over Postgres by apps/control's
 * revocations table, so every instance of every app sees a revocation at once.
 */
export interface RevocationChecker {
  isRevoked(principal: Principal): Promise<boolean>;
}
export const REVOCATION_CHECKER = Symbol('REVOCATION_CHECKER');

const PRINCIPAL = Symbol('principal');

export function bearerToken(header: string | undefined): string | undefined {
  if (!header) return undefined;
  const match = /^Bearer\s+(\S+)$/i.exec(header);
  return match?.[1];
}

/**
 * Requires a valid access token (or, where an API_TOKEN_RESOLVER is provided, a personal API
 * token) and attaches the caller's principal to the request.
 */
@Injectable()
export class AccessTokenGuard implements CanActivate {
  constructor(
    private readonly tokens: TokenService,
    @Optional() @Inject(REVOCATION_CHECKER) private readonly revocations?: RevocationChecker,
    @Optional() @Inject(API_TOKEN_RESOLVER) private readonly apiTokens?: ApiTokenResolver,
  ) {}

  async canActivate(context: ExecutionContext): Promise<boolean> {
    const request = context.switchToHttp().getRequest<Request & { [PRINCIPAL]?: Principal }>();
    const raw = bearerToken(request.headers.authorization);
    let principal: Principal;
    if (raw && isApiToken(raw)) {
      if (!this.apiTokens) throw new AuthError('invalid_token', 'personal API tokens are not accepted here');
      principal = await this.apiTokens.resolve(raw);
    } else {
      principal = await this.tokens.verifyAccessToken(raw);
    }
    if (this.revocations && (await this.revocations.isRevoked(principal))) {
      throw new AuthError('session_revoked', 'the session of this token was revoked');
    }
    request[PRINCIPAL] = principal;
    return true;
  }
}

/** The verified caller, in a controller behind AccessTokenGuard. */
export const CurrentPrincipal = createParamDecorator((_data: unknown, context: ExecutionContext): Principal => {
  const principal = context.switchToHttp().getRequest<{ [PRINCIPAL]?: Principal }>()[PRINCIPAL];
  if (!principal) throw new AuthError('missing_token', 'route is missing AccessTokenGuard');
  return principal;
});

export interface AuthModuleOptions {
  /**
   * Check revocations and accept personal API tokens through control's Postgres relations
   * (control.revocations, control.api_token_credentials); needs PlatformModule's DATABASE.
   */
  postgres?: boolean;
  /** Upper bound on how long "not revoked" is cached per process (default 500 ms, ≤ 1 s). */
  revocationCacheMs?: number;
}

@Global()
@Module({})
export class AuthModule {
  static forRoot(keys: KeyRing, options: AuthModuleOptions = {}): DynamicModule {
    const stores: Provider[] = options.postgres
      ? [
          {
            provide: REVOCATION_CHECKER,
            inject: [DATABASE],
            useFactory: (db: Database) =>
              new PostgresRevocationChecker(db, { negativeCacheMs: Math.min(options.revocationCacheMs ?? 500, 1000) }),
          },
          { provide: API_TOKEN_RESOLVER, inject: [DATABASE], useFactory: (db: Database) => new PostgresApiTokenResolver(db) },
        ]
      : [];
    const storeTokens = options.postgres ? [REVOCATION_CHECKER, API_TOKEN_RESOLVER] : [];
    return {
      module: AuthModule,
      providers: [{ provide: TokenService, useValue: new TokenService(keys) }, ...stores, AccessTokenGuard],
      exports: [TokenService, AccessTokenGuard, ...storeTokens],
    };
  }
}
