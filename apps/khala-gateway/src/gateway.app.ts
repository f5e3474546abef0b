import { INestApplication } from '@nestjs/common';
import { KeyRing, TokenService } from '@khala/auth';
import { createHttpApp } from '@khala/platform';
import { GatewayEnv } from './gateway.env';
import { GatewayModule } from './gateway.module';
import { SyncWsAdapter } from './sync/sync-ws.adapter';

export async function createGatewayApp(env: GatewayEnv, keys: KeyRing): Promise<INestApplication> {
  const app = await createHttpApp(GatewayModule.forRoot({ env, keys }), { title: 'Khala gateway' });
  const allowedOrigins = env.GATEWAY_ALLOWED_ORIGINS?.split(',')
    .map((origin) => origin.trim())
    .filter(Boolean);
  app.useWebSocketAdapter(new SyncWsAdapter(app, app.get(TokenService), { allowedOrigins }));
  return app;
}
