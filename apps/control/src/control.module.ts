import { DynamicModule, Module } from '@nestjs/common';
import { CqrsModule } from '@nestjs/cqrs';
import { AuthModule, KeyRing } from '@khala/auth';
import { EventStoreModule } from '@khala/eventstore';
import { DATABASE, PlatformModule } from '@khala/platform';
import { IssueApiTokenHandler } from './api-tokens/commands/issue-api-token/issue-api-token.handler';
import { RevokeApiTokenHandler } from './api-tokens/commands/revoke-api-token/revoke-api-token.handler';
import { ApiTokensController } from './api-tokens/http/api-tokens.controller';
import { ControlEnv } from './control.env';
import { AuthThrottle } from './identity/auth-throttle';
import { LogInHandler } from './identity/commands/log-in/log-in.handler';
import { SignUpHandler } from './identity/commands/sign-up/sign-up.handler';
import { EmailReservations } from './identity/email-reservations.repository';
import { AuthController } from './identity/http/auth.controller';
import { PasswordHasher } from './identity/password-hasher';
import { ControlReadModels } from './identity/queries/control-read-models.repository';
import { SessionTokens } from './identity/session-tokens';
import { GrantMembershipHandler } from './orgs/commands/grant-membership/grant-membership.handler';
import { OrgsController } from './orgs/http/orgs.controller';
import { ControlProjectors } from './projections/control-projectors';
import { RevokeSessionsHandler } from './sessions/commands/revoke-sessions/revoke-sessions.handler';
import { ReadYourWrites } from './shared/read-your-writes';
import { IssueSyncTokenHandler } from './sync-tokens/commands/issue-sync-token/issue-sync-token.handler';
import { SyncTokensController } from './sync-tokens/http/sync-tokens.controller';
import { OrgSyncPolicy } from './sync-tokens/org-sync-policy';

export interface ControlModuleOptions {
  env: ControlEnv;
  keys: KeyRing;
}

@Module({})
export class ControlModule {
  static forRoot({ env, keys }: ControlModuleOptions): DynamicModule {
    return {
      module: ControlModule,
      imports: [
        PlatformModule.forApp({ app: 'control', env, databaseUrl: env.CONTROL_DATABASE_URL ?? env.DATABASE_URL }),
        AuthModule.forRoot(keys, { postgres: true }),
        EventStoreModule.forRoot({ database: DATABASE, eventStoreUrl: env.EVENTSTORE_URL, pollIntervalMs: env.POLL_INTERVAL_MS }),
        CqrsModule.forRoot(),
      ],
      controllers: [AuthController, OrgsController, ApiTokensController, SyncTokensController],
      providers: [
        { provide: PasswordHasher, useValue: new PasswordHasher({ logN: env.PASSWORD_SCRYPT_LOG_N, r: 8, p: 1 }) },
        AuthThrottle,
        EmailReservations,
        ReadYourWrites,
        SessionTokens,
        ControlReadModels,
        OrgSyncPolicy,
        SignUpHandler,
        LogInHandler,
        GrantMembershipHandler,
        RevokeSessionsHandler,
        IssueApiTokenHandler,
        RevokeApiTokenHandler,
        IssueSyncTokenHandler,
        ...(env.CONTROL_PROJECTORS === 'off' ? [] : [ControlProjectors]),
      ],
    };
  }
}
