// `weir board`'s defaults, which its help text states (kept apart from the server so that the help
// loads nothing else).
/** TensorBoard's port. */
export const DEFAULT_PORT = 6006;
/** Only this machine can see the board. */
export const DEFAULT_HOST = 'localhost';
