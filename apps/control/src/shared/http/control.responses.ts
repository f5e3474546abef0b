import { ApiProperty } from '@nestjs/swagger';
import { API_TOKEN_SCOPES } from '@khala/auth';
import { SYNC_TOPIC_CLASSES } from '../../sync-tokens/org-sync-policy';

const TIMESTAMP = { type: String, format: 'date-time', description: 'RFC 3339, UTC' } as const;
const NULLABLE_TIMESTAMP = { ...TIMESTAMP, nullable: true } as const;

/** Sign-up and log-in: a session bound to a device, and its access token. */
export class SessionGrantResponse {
  @ApiProperty() user_id!: string;
  @ApiProperty() org_id!: string;
  @ApiProperty() session_id!: string;
  @ApiProperty() device_id!: string;
  @ApiProperty({ description: 'send as `Authorization: Bearer <access_token>`' }) access_token!: string;
  @ApiProperty({ enum: ['Bearer'] }) token_type!: 'Bearer';
  @ApiProperty({ ...TIMESTAMP, description: 'when the access token expires (its JWT `exp` claim); RFC 3339, UTC' }) expires_at!: string;
}

export class RevokedSessions {
  @ApiProperty({ type: [String] }) revoked_session_ids!: string[];
  @ApiProperty({ type: [String] }) revoked_device_ids!: string[];
}

export class SessionView {
  @ApiProperty() session_id!: string;
  @ApiProperty() org_id!: string;
  @ApiProperty() device_id!: string;
  @ApiProperty(TIMESTAMP) started_at!: string;
  @ApiProperty(NULLABLE_TIMESTAMP) revoked_at!: string | null;
}

export class SessionList {
  @ApiProperty({ type: [SessionView], description: 'the caller\'s sessions, newest first (at most 200)' }) sessions!: SessionView[];
}

export class MembershipView {
  @ApiProperty() org_id!: string;
  @ApiProperty() name!: string;
  @ApiProperty({ enum: ['owner', 'admin', 'member'] }) role!: string;
}

export class Me {
  @ApiProperty() user_id!: string;
  @ApiProperty({ description: 'the org of this token' }) org_id!: string;
  @ApiProperty() email!: string;
  @ApiProperty() name!: string;
  @ApiProperty({ type: String, nullable: true, description: 'null for an API token' }) session_id!: string | null;
  @ApiProperty({ type: String, nullable: true, description: 'null for an API token' }) device_id!: string | null;
  @ApiProperty({ type: [MembershipView] }) orgs!: MembershipView[];
}

export class MembershipGranted {
  @ApiProperty() org_id!: string;
  @ApiProperty() user_id!: string;
  @ApiProperty({ enum: ['owner', 'admin', 'member'] }) role!: string;
}

export class ApiTokenIssued {
  @ApiProperty() token_id!: string;
  @ApiProperty({ description: 'the secret, shown this once only' }) token!: string;
  @ApiProperty() name!: string;
  @ApiProperty({ type: [String], enum: API_TOKEN_SCOPES }) scopes!: string[];
  @ApiProperty(TIMESTAMP) created_at!: string;
}

export class ApiTokenView {
  @ApiProperty() token_id!: string;
  @ApiProperty() name!: string;
  @ApiProperty() org_id!: string;
  @ApiProperty({ type: [String], enum: API_TOKEN_SCOPES }) scopes!: string[];
  @ApiProperty(TIMESTAMP) created_at!: string;
  @ApiProperty(NULLABLE_TIMESTAMP) revoked_at!: string | null;
}

export class ApiTokenList {
  @ApiProperty({ type: [ApiTokenView], description: 'the caller\'s tokens, newest first (at most 200); never the secrets' }) tokens!: ApiTokenView[];
}

export class ApiTokenRevoked {
  @ApiProperty() token_id!: string;
  @ApiProperty({ enum: [true] }) revoked!: true;
}

export class SyncToken {
  @ApiProperty({ description: 'the token the sync socket and GET /api/sync/snapshot take' }) token!: string;
  @ApiProperty({ enum: ['Bearer'] }) token_type!: string;
  @ApiProperty({ description: 'lifetime in seconds (a duration, as OAuth 2.0 `expires_in`)' }) expires_in!: number;
  @ApiProperty({ ...TIMESTAMP, description: 'when the token was issued (its JWT `iat` claim); RFC 3339, UTC' }) issued_at!: string;
  @ApiProperty({ ...TIMESTAMP, description: 'when the token expires (its JWT `exp` claim); RFC 3339, UTC' }) expires_at!: string;
  @ApiProperty() issuer!: string;
  @ApiProperty() audience!: string;
  @ApiProperty() subject!: string;
  @ApiProperty() org_id!: string;
  @ApiProperty() claims_version!: number;
  @ApiProperty({ type: [String], enum: SYNC_TOPIC_CLASSES }) scopes!: string[];
  @ApiProperty({ description: 'the signing key id' }) kid!: string;
}

export class SyncTokenIssued {
  @ApiProperty({ type: SyncToken }) data!: SyncToken;
}
