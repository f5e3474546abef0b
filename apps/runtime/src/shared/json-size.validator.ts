import { registerDecorator, ValidationOptions } from 'class-validator';

/** Bounds free-form JSON by its serialised size, the size that is stored and delivered. */
export function IsJsonSizedAtMost(maxBytes: number, options?: ValidationOptions) {
  return (target: object, propertyName: string) =>
    registerDecorator({
      name: 'isJsonSizedAtMost',
      target: target.constructor,
      propertyName,
      constraints: [maxBytes],
      options: { message: `$property must serialise to at most ${maxBytes} bytes of JSON`, ...options },
      validator: {
        validate: (value: unknown) => value === undefined || Buffer.byteLength(JSON.stringify(value)) <= maxBytes,
      },
    });
}
