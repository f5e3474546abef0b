import { DynamicModule, Module } from '@nestjs/common';
import { AuthModule, KeyRing } from '@khala/auth';
import { PlatformModule } from '@khala/platform';
import { GatewayEnv } from './gateway.env';
import { SnapshotModule } from './snapshot/snapshot.module';
import { EntityOwnership } from './sync/entity-ownership';
import { JournalRepository } from './sync/journal.repository';
import { JournalWakeups } from './sync/journal-wakeups';
import { Revocations } from './sync/revocations';
import { SyncConnections } from './sync/sync-connections';
import { SyncDrain } from './sync/sync-drain';
import { TopicFeeds } from './sync/topic-feeds';
import { SyncAliasGateway, SyncGateway } from './sync/sync.gateway';

@Module({})
export class GatewayModule {
  static forRoot({ env, keys }: { env: GatewayEnv; keys: KeyRing }): DynamicModule {
    return {
      module: GatewayModule,
      imports: [
        PlatformModule.forApp({ app: 'gateway', env, databaseUrl: env.GATEWAY_DATABASE_URL ?? env.DATABASE_URL }),
        AuthModule.forRoot(keys),
        SnapshotModule.forRoot(keys),
      ],
      providers: [JournalRepository, JournalWakeups, EntityOwnership, TopicFeeds, Revocations, SyncConnections, SyncDrain, SyncGateway, SyncAliasGateway],
    };
  }
}
