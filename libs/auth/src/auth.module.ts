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
} from '@nestjs/common';
import type { Request } from 'express';
import { AuthError } from './auth.error';
import { Principal } from './claims';
import { KeyRing } from './key-ring';
import { TokenService } from './token-service';

/**
 * Whether a session or device was revoked. Implemented over Postgres by apps/control's
 * revocations view, so every instance of every app sees a revocation at once.
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

/** Requires a valid access token and attaches the caller's principal to the request. */
@Injectable()
export class AccessTokenGuard implements CanActivate {
  constructor(
    private readonly tokens: TokenService,
    @Optional() @Inject(REVOCATION_CHECKER) private readonly revocations?: RevocationChecker,
  ) {}

  async canActivate(context: ExecutionContext): Promise<boolean> {
    const request = context.switchToHttp().getRequest<Request & { [PRINCIPAL]?: Principal }>();
    const principal = await this.tokens.verifyAccessToken(bearerToken(request.headers.authorization));
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

@Global()
@Module({})
export class AuthModule {
  static forRoot(keys: KeyRing): DynamicModule {
    return {
      module: AuthModule,
      providers: [{ provide: TokenService, useValue: new TokenService(keys) }, AccessTokenGuard],
      exports: [TokenService, AccessTokenGuard],
    };
  }
}
