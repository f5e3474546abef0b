/**
 * Child process of the `http-adapter` benchmark: runtime's frames route as Nest serves it (the
 * global validation pipe and the real AppendRunFramesDto, a guard reading the bearer header, a JSON
 * answer) with no store behind it, on the adapter named by argv[2] ('express' | 'fastify'), so
 * the two HTTP stacks can be compared on the same app code. Prints {url} and serves until stdin closes.
 */
import 'reflect-metadata';
import { Body, CanActivate, Controller, ExecutionContext, HttpCode, Injectable, Module, Param, Post, UseGuards } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { FastifyAdapter } from '@nestjs/platform-fastify';
import { AddressInfo } from 'node:net';
import { AppendRunFramesDto } from '../../../apps/runtime/src/runs/commands/append-run-frames/append-run-frames.dto';
import { createValidationPipe } from '../../../libs/platform/src/http/validation';
import { parentClosed, reply } from '../store/child-process';

@Injectable()
class BearerPresent implements CanActivate {
  canActivate(context: ExecutionContext): boolean {
    const headers = context.switchToHttp().getRequest<{ headers: Record<string, string | undefined> }>().headers;
    return headers.authorization?.startsWith('Bearer ') ?? false;
  }
}

let revision = 0;

@UseGuards(BearerPresent)
@Controller('api/runtime/runs')
class FramesController {
  @Post(':run_id/frames')
  @HttpCode(202)
  append(@Param('run_id') runId: string, @Body() body: AppendRunFramesDto) {
    revision += body.frames.length;
    return { run_id: runId, accepted: body.frames.length, revision };
  }
}

@Module({ controllers: [FramesController], providers: [BearerPresent] })
class FramesModule {}

async function main(adapter: string): Promise<void> {
  const app =
    adapter === 'fastify'
      ? await NestFactory.create(FramesModule, new FastifyAdapter({ bodyLimit: 16 * 1024 * 1024 }), { logger: false })
      : await NestFactory.create(FramesModule, { logger: false });
  app.useGlobalPipes(createValidationPipe());
  await app.listen(0, '127.0.0.1');
  reply({ url: `http://127.0.0.1:${(app.getHttpServer().address() as AddressInfo).port}` });
  await parentClosed();
  await app.close();
  process.exit(0);
}

main(process.argv[2]).catch((error: Error) => {
  process.stderr.write(`frames-app: ${error.stack ?? error.message}\n`);
  process.exit(1);
});
