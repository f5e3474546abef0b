import { DynamicModule, Module } from '@nestjs/common';
import { KeyRing } from '@khala/auth';
import { SnapshotController } from './snapshot.controller';
import { SnapshotPageTokens } from './snapshot-page-token';
import { SnapshotReader } from './snapshot.reader';

/** The snapshot bootstrap route; needs the global PlatformModule (DATABASE) and AuthModule (TokenService). */
@Module({})
export class SnapshotModule {
  static forRoot(keys: KeyRing): DynamicModule {
    return {
      module: SnapshotModule,
      controllers: [SnapshotController],
      providers: [SnapshotReader, { provide: SnapshotPageTokens, useValue: new SnapshotPageTokens(keys) }],
    };
  }
}
