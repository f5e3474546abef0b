import { IsInt, IsOptional, IsString, Max, Min } from 'class-validator';
import { CommonEnv } from '@khala/platform';

export class RuntimeEnv extends CommonEnv {
  @IsInt()
  @Min(0)
  @Max(65535)
  RUNTIME_PORT: number = 3002;


  /** Connect as the runtime role directly instead of SET ROLE on the admin URL. */
  @IsOptional()
  @IsString()
  RUNTIME_DATABASE_URL?: string;

  /** Run the projectors in this process (the default; a deployment may run them elsewhere). */
  @IsOptional()
  @IsString()
  RUNTIME_PROJECTORS: string = 'on';
}
