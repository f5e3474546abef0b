import { ApiProperty } from '@nestjs/swagger';

/** What every runtime command answers besides its entity id: the stream revision it wrote. */
export class CommandRevision {
  @ApiProperty({ description: 'the stream revision after this command; pass it as `min_revision` to read your write' })
  revision!: number;
}

/** A page of a list route. */
export class PageCursor {
  @ApiProperty({ type: String, nullable: true, description: 'pass as `after` for the next page; null on the last page' })
  next_after!: string | null;
}

/** Fields every read-model row carries. */
export class ReadModelVersion {
  @ApiProperty({ description: 'how many events the read model has folded into this document' })
  doc_version!: number;

  @ApiProperty({ description: 'the global position of the last event folded into this document' })
  watermark!: number;
}
