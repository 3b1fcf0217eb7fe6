namespace Engine.Nn.Checkpoints;

/// <summary>
/// A checkpoint could not be written or read: a file is missing, truncated, corrupted, or does not match the model
/// it is loaded into. The message names the file and, where one is at fault, the tensor.
/// </summary>
public sealed class CheckpointException : Exception
{
    /// <summary>An error with a message.</summary>
    public CheckpointException(string message) : base(message) { }

    /// <summary>An error with a message and the exception that caused it.</summary>
    public CheckpointException(string message, Exception inner) : base(message, inner) { }
}
