import { INestApplication } from '@nestjs/common';
import { KeyRing, TokenService } from '@khala/auth';
import { createHttpApp, originPolicyOf } from '@khala/platform';
import { GatewayEnv } from './gateway.env';
import { GatewayModule } from './gateway.module';
import { SyncWsAdapter } from './sync/sync-ws.adapter';

export async function createGatewayApp(env: GatewayEnv, keys: KeyRing): Promise<INestApplication> {
  const app = await createHttpApp(GatewayModule.forRoot({ env, keys }), { title: 'Khala gateway' });
  app.useWebSocketAdapter(new SyncWsAdapter(app, app.get(TokenService), originPolicyOf(app)));
  return app;
}
