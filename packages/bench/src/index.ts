export { Backing, type BackingName, type BackingVersions } from './backing.js';
