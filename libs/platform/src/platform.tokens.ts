export const DATABASE = Symbol('DATABASE');
export const LOGGER = Symbol('LOGGER');
export const APP_ENV = Symbol('APP_ENV');
export const APP_NAME = Symbol('APP_NAME');
