import { ApiProperty } from '@nestjs/swagger';

export class SnapshotDocumentView {
  @ApiProperty({ description: 'the entity id; the key `update_batch` updates of this topic use' }) doc_key!: string;
  @ApiProperty() doc_version!: number;
  @ApiProperty({ type: 'object', additionalProperties: true, description: 'the document, as sync updates carry it' }) payload!: unknown;
  @ApiProperty({ description: 'hash of the canonical JSON of payload' }) payload_hash!: string;
}

export class SnapshotPage {
  @ApiProperty() topic!: string;
  @ApiProperty({ description: 'resume the topic from this watermark after the last page' }) watermark!: number;
  @ApiProperty({ type: [SnapshotDocumentView] }) documents!: SnapshotDocumentView[];
  @ApiProperty({ type: String, nullable: true, description: 'pass as page_token for the next page; null on the last page' })
  next_page_token!: string | null;
}
