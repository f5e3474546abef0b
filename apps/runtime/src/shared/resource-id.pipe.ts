import { PipeTransform } from '@nestjs/common';
import { RESOURCE_ID_PATTERN } from './command-key';

/**
 * A route's resource id: a malformed one names nothing, so it is answered like any resource the
 * caller cannot see (the error `notFound` makes, a 404).
 */
export class ResourceIdPipe implements PipeTransform<string, string> {
  constructor(private readonly notFound: () => Error) {}

  transform(id: string): string {
    if (!RESOURCE_ID_PATTERN.test(id)) throw this.notFound();
    return id;
  }
}
