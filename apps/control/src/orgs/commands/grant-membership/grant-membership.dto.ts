import { ApiProperty } from '@nestjs/swagger';
import { IsIn, IsString, Length } from 'class-validator';
import { ORG_ROLES, OrgRole } from '../../domain/org.decider';

export class GrantMembershipDto {
  @ApiProperty({ description: 'email of an existing user' })
  @IsString()
  @Length(1, 254)
  email!: string;

  @ApiProperty({ enum: ORG_ROLES })
  @IsIn(ORG_ROLES)
  role!: OrgRole;
}
