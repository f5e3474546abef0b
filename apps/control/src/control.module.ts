import { DynamicModule, Module } from '@nestjs/common';
import { AuthModule, KeyRing } from '@khala/auth';
import { PlatformModule } from '@khala/platform';
import { ControlEnv } from './control.env';

@Module({})
export class ControlModule {
  static forRoot({ env, keys }: { env: ControlEnv; keys: KeyRing }): DynamicModule {
    return {
      module: ControlModule,
      imports: [
        PlatformModule.forApp({ app: 'control', env, databaseUrl: env.CONTROL_DATABASE_URL ?? env.DATABASE_URL }),
        AuthModule.forRoot(keys),
      ],
    };
  }
}
