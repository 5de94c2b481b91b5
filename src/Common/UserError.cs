namespace NasPrune.Common;

/// <summary>
/// A mistake in the user's input (a missing file, a malformed field, an unknown task). The command-line
/// front end prints its message as one line on stderr and exits non-zero, never with a stack trace.
/// Messages name the file and, where there is one, the field or tensor at fault.
/// </summary>
public sealed class UserError(string message, Exception? inner = null) : Exception(message, inner);
