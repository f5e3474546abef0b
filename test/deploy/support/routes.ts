import { PATH_METADATA } from '@nestjs/common/constants';
import { HealthController, MetricsController } from '@khala/platform';
import { readRepoFile, sourcesUnder } from './repository';

function joinRoute(...parts: (string | undefined)[]): string {
  return `/${parts.flatMap((part) => (part ?? '').split('/')).filter(Boolean).join('/')}`;
}

function pathOf(target: object): string | undefined {
  return Reflect.getMetadata(PATH_METADATA, target) as string | undefined;
}

/** The health and metrics routes every app serves, from the controllers' own route metadata. */
export function platformRoutes(): { live: string; ready: string; metrics: string } {
  const health = pathOf(HealthController);
  const prototype = HealthController.prototype as unknown as Record<string, object>;
  const metricsPrototype = MetricsController.prototype as unknown as Record<string, object>;
  const metricsHandler = Object.getOwnPropertyNames(metricsPrototype).find((name) => name !== 'constructor' && pathOf(metricsPrototype[name]) !== undefined);
  return {
    live: joinRoute(health, pathOf(prototype.live)),
    ready: joinRoute(health, pathOf(prototype.ready)),
    metrics: joinRoute(pathOf(MetricsController), metricsHandler ? pathOf(metricsPrototype[metricsHandler]) : undefined),
  };
}

/** `@Controller('…')` prefixes of an app's HTTP controllers (what a proxy routes by). */
export function controllerPrefixes(appDir: string): string[] {
  return sourcesUnder(appDir).flatMap((file) => [...readRepoFile(file).matchAll(/@Controller\('([^']*)'\)/g)].map(([, path]) => joinRoute(path)));
}

/** The paths the gateway accepts sync:v1 sockets on (`@WebSocketGateway({ path })`). */
export function webSocketPaths(appDir: string): string[] {
  return sourcesUnder(appDir).flatMap((file) => [...readRepoFile(file).matchAll(/@WebSocketGateway\(\{[^}]*path:\s*'([^']+)'/g)].map(([, path]) => path));
}

/** Full routes (`/api/sync/snapshot`) of a controller file's GET handlers. */
export function getRoutesOf(file: string): string[] {
  const text = readRepoFile(file);
  const prefix = /@Controller\('([^']*)'\)/.exec(text)?.[1];
  return [...text.matchAll(/@Get\('([^']*)'\)/g)].map(([, path]) => joinRoute(prefix, path));
}
