import { Injectable, PipeTransform } from '@nestjs/common';
import { RequestError } from '@khala/platform';

/**
 * For routes whose body is `{}` (heartbeat): an absent body or an empty object passes, any field
 * is refused like an unknown field elsewhere. A DTO class without fields cannot express this:
 * class-validator's forbidUnknownValues refuses a class with no metadata at all.
 */
@Injectable()
export class EmptyBodyPipe implements PipeTransform<unknown, Record<string, never>> {
  transform(value: unknown): Record<string, never> {
    if (value === undefined || value === null) return {};
    if (typeof value !== 'object' || Array.isArray(value)) {
      throw new RequestError('validation_failed', 'request validation failed', [{ field: 'body', errors: ['body must be an empty JSON object'] }]);
    }
    const fields = Object.keys(value);
    if (fields.length > 0) {
      throw new RequestError(
        'validation_failed',
        'request validation failed',
        fields.map((field) => ({ field, errors: [`property ${field} should not exist`] })),
      );
    }
    return {};
  }
}
