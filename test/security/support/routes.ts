import 'reflect-metadata';
import { DynamicModule, RequestMethod, Type } from '@nestjs/common';
import { METHOD_METADATA, MODULE_METADATA, PATH_METADATA } from '@nestjs/common/constants';
import { KeyRing } from '@khala/auth';
import { loadEnv } from '@khala/platform';
import { ControlEnv } from '../../../apps/control/src/control.env';
import { ControlModule } from '../../../apps/control/src/control.module';
import { GatewayEnv } from '../../../apps/khala-gateway/src/gateway.env';
import { GatewayModule } from '../../../apps/khala-gateway/src/gateway.module';
import { RuntimeEnv } from '../../../apps/runtime/src/runtime.env';
import { RuntimeModule } from '../../../apps/runtime/src/runtime.module';

type ModuleLike = Type | DynamicModule;

const isDynamic = (value: unknown): value is DynamicModule => typeof value === 'object' && value !== null && 'module' in value;

/** Every controller a module graph registers (its own and its imports', transitively). */
function controllersOf(root: ModuleLike, seen = new Set<unknown>()): Type[] {
  if (seen.has(root)) return [];
  seen.add(root);
  const moduleClass = isDynamic(root) ? root.module : root;
  const controllers: Type[] = [
    ...((Reflect.getMetadata(MODULE_METADATA.CONTROLLERS, moduleClass) as Type[] | undefined) ?? []),
    ...(isDynamic(root) ? (root.controllers ?? []) : []),
  ];
  const imports = [
    ...((Reflect.getMetadata(MODULE_METADATA.IMPORTS, moduleClass) as unknown[] | undefined) ?? []),
    ...(isDynamic(root) ? (root.imports ?? []) : []),
  ];
  for (const imported of imports) {
    if (typeof imported === 'function' || isDynamic(imported)) controllers.push(...controllersOf(imported as ModuleLike, seen));
  }
  return [...new Set(controllers)];
}

const paths = (value: unknown): string[] => (Array.isArray(value) ? (value as string[]) : [typeof value === 'string' ? value : '/']);
const join = (...parts: string[]) => `/${parts.map((part) => part.replace(/^\/+|\/+$/g, '')).filter(Boolean).join('/')}`;

/** `METHOD /path` for every handler, from Nest's route metadata (what the router is built from). */
export function routesOfModule(root: ModuleLike): string[] {
  const routes: string[] = [];
  for (const controller of controllersOf(root)) {
    const bases = paths(Reflect.getMetadata(PATH_METADATA, controller));
    const prototype = controller.prototype as Record<string, unknown>;
    for (const name of Object.getOwnPropertyNames(prototype)) {
      const handler = prototype[name];
      if (name === 'constructor' || typeof handler !== 'function') continue;
      const method = Reflect.getMetadata(METHOD_METADATA, handler) as RequestMethod | undefined;
      if (method === undefined) continue;
      for (const base of bases) {
        for (const path of paths(Reflect.getMetadata(PATH_METADATA, handler))) routes.push(`${RequestMethod[method]} ${join(base, path)}`);
      }
    }
  }
  return routes.sort();
}

/** The HTTP routes of the three apps, built the way apps/embedded builds them. */
export function routesOfApps(databaseUrl: string): { control: string[]; runtime: string[]; gateway: string[] } {
  const env = { ...process.env, DATABASE_URL: databaseUrl };
  const keys = KeyRing.generate();
  return {
    control: routesOfModule(ControlModule.forRoot({ env: loadEnv(ControlEnv, env), keys })),
    runtime: routesOfModule(RuntimeModule.forRoot({ env: loadEnv(RuntimeEnv, env), keys })),
    gateway: routesOfModule(GatewayModule.forRoot({ env: loadEnv(GatewayEnv, env), keys })),
  };
}
