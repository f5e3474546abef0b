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
  SetMetadata,
} from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import type { IncomingHttpHeaders } from 'node:http';
import { Database, DATABASE } from '@khala/platform';
import { ApiTokenScope, isApiToken } from './api-token';
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
const REQUIRED_SCOPE = 'khala:required_scope';

/**
 * The API token scope a route (or every route of a controller) needs. Access tokens of a signed-in
 * session pass regardless; a personal API token without the scope gets 403 insufficient_scope.
 */
export const RequireScope = (scope: ApiTokenScope) => SetMetadata(REQUIRED_SCOPE, scope);

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
    private readonly reflector: Reflector,
    @Optional() @Inject(REVOCATION_CHECKER) private readonly revocations?: RevocationChecker,
    @Optional() @Inject(API_TOKEN_RESOLVER) private readonly apiTokens?: ApiTokenResolver,
  ) {}

  async canActivate(context: ExecutionContext): Promise<boolean> {
    const request = context.switchToHttp().getRequest<{ headers: IncomingHttpHeaders; [PRINCIPAL]?: Principal }>();
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
    const required = this.reflector.getAllAndOverride<ApiTokenScope | undefined>(REQUIRED_SCOPE, [context.getHandler(), context.getClass()]);
    if (required && principal.via === 'api_token' && !principal.scopes?.includes(required)) {
      throw new AuthError('insufficient_scope', `this API token lacks the ${required} scope`, { required_scope: required });
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
