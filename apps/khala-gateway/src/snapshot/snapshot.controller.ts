import { Controller, Get, Headers, Query } from '@nestjs/common';
import { ApiBearerAuth, ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import { bearerToken, TokenService } from '@khala/auth';
import { ApiErrors, BEARER_TOKEN, EVERY_ROUTE } from '@khala/platform';
import { isTopicClass } from '@khala/contracts';
import { SnapshotPageTokens } from './snapshot-page-token';
import { SnapshotQueryDto } from './snapshot-query.dto';
import { SNAPSHOT_SOURCES, SnapshotDocument, SnapshotReader } from './snapshot.reader';
import { SnapshotError } from './snapshot.error';
import { SnapshotPage } from './snapshot.responses';

/** GET /api/sync/snapshot (docs/protocol/README.md §8): bootstrap pages for a topic, all at one watermark. */
@ApiTags('sync')
@ApiBearerAuth()
@Controller('api/sync')
export class SnapshotController {
  constructor(
    private readonly tokens: TokenService,
    private readonly reader: SnapshotReader,
    private readonly pageTokens: SnapshotPageTokens,
  ) {}

  @Get('snapshot')
  @ApiOperation({ summary: 'a page of the current documents of a topic, every page at one watermark; takes a sync token' })
  @ApiOkResponse({ type: SnapshotPage })
  @ApiErrors(EVERY_ROUTE, BEARER_TOKEN, {
    400: ['bad_topic', 'snapshot_not_available', 'invalid_page_token'],
    401: ['reauth_required'],
    403: ['forbidden_topic'],
  })
  async snapshot(
    @Headers('authorization') authorization: string | undefined,
    @Query() query: SnapshotQueryDto,
  ): Promise<{ topic: string; watermark: number; documents: SnapshotDocument[]; next_page_token: string | null }> {
    const principal = await this.tokens.verifySyncToken(bearerToken(authorization));
    const { topic } = query;
    if (!isTopicClass(topic)) throw new SnapshotError('bad_topic', `unknown topic ${topic}`, { topic });
    if (!principal.scopes.includes(topic)) throw new SnapshotError('forbidden_topic', `the token does not grant ${topic}`, { forbidden_topics: [topic] });
    if (!SNAPSHOT_SOURCES[topic]) throw new SnapshotError('snapshot_not_available', `${topic} has no snapshot; subscribe and replay instead`, { topic });
    if (await this.reader.isRevoked(principal.sessionId)) {
      throw new SnapshotError('reauth_required', 'the session of this token was revoked', { reauth_required: true });
    }
    let pin: { watermark: number; after: string } | undefined;
    if (query.page_token) {
      const cursor = this.pageTokens.decode(query.page_token);
      // A token is bound to the org and topic it was issued for. Another org's token is refused
      // exactly like a forged one, so it does not even confirm that it is genuine.
      if (cursor.orgId !== principal.orgId) throw SnapshotPageTokens.invalid();
      if (cursor.topic !== topic) throw new SnapshotError('invalid_page_token', 'page_token belongs to another snapshot');
      pin = { watermark: cursor.watermark, after: cursor.after };
    }
    const page = await this.reader.page(topic, principal.orgId, pin, query.page_size ?? 200);
    return {
      topic,
      watermark: page.watermark,
      documents: page.documents,
      next_page_token:
        page.after === null ? null : this.pageTokens.encode({ topic, orgId: principal.orgId, watermark: page.watermark, after: page.after }),
    };
  }
}
