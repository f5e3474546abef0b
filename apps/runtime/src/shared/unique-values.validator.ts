import { registerDecorator, ValidationOptions } from 'class-validator';

/** An array of objects whose `key` values are all different (e.g. frame_id within one request). */
export function HasUniqueValues(key: string, options?: ValidationOptions) {
  return (target: object, propertyName: string) =>
    registerDecorator({
      name: 'hasUniqueValues',
      target: target.constructor,
      propertyName,
      constraints: [key],
      options: { message: `$property must not repeat a ${key}`, ...options },
      validator: {
        validate: (value: unknown) => {
          if (!Array.isArray(value)) return true;
          const keys = value.map((item) => (typeof item === 'object' && item !== null ? (item as Record<string, unknown>)[key] : undefined));
          return new Set(keys.filter((k) => k !== undefined)).size === keys.filter((k) => k !== undefined).length;
        },
      },
    });
}
