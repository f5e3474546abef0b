import { ValidationError, ValidationPipe } from '@nestjs/common';
import { RequestError } from '../errors/domain-error';

export interface FieldError {
  field: string;
  /** One message: the first thing the caller has to fix in this field. */
  errors: string[];
}

/**
 * Constraints that say what kind of value a field needs. When one of them fails the others
 * (length, pattern, range) say nothing useful yet, so the field's one message is this one.
 */
const KIND_CONSTRAINTS = ['whitelistValidation', 'isDefined', 'nestedValidation', 'isObject', 'isArray', 'isString', 'isInt', 'isNumber', 'isBoolean', 'isEnum', 'isIn'];

/** The one message a failing field gets (class-validator reports every failed decorator). */
function oneMessage(error: ValidationError, field: string): string {
  const constraints = error.constraints ?? {};
  const kind = KIND_CONSTRAINTS.find((name) => constraints[name] !== undefined);
  // Optional fields skip validation when absent, so a failing absent field is a required one.
  if (error.value === undefined && kind !== 'whitelistValidation') return `${field} is required`;
  return constraints[kind ?? Object.keys(constraints)[0]];
}

/** Flattens nested class-validator errors into `frames.0.payload`-style field paths, one message each. */
export function flattenValidationErrors(errors: ValidationError[], prefix = ''): FieldError[] {
  return errors.flatMap((error) => {
    const field = prefix ? `${prefix}.${error.property}` : error.property;
    const own = error.constraints && Object.keys(error.constraints).length ? [{ field, errors: [oneMessage(error, field)] }] : [];
    return [...own, ...flattenValidationErrors(error.children ?? [], field)];
  });
}

/** Unknown fields are rejected, not stripped: a typo in a field name must not be silently ignored. */
export function createValidationPipe(): ValidationPipe {
  return new ValidationPipe({
    whitelist: true,
    forbidNonWhitelisted: true,
    forbidUnknownValues: true,
    transform: true,
    // The value is kept only to tell "missing" from "wrong"; it never reaches the response.
    validationError: { target: false, value: true },
    exceptionFactory: (errors) =>
      new RequestError('validation_failed', 'request validation failed', flattenValidationErrors(errors)),
  });
}
