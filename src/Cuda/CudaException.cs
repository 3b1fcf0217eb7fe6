namespace Engine.Cuda;

/// <summary>
/// A CUDA library call failed. The message names the function and carries the library's own error name and
/// description (for example <c>cuMemAlloc_v2: CUDA_ERROR_INVALID_VALUE (invalid argument)</c>).
/// </summary>
public class CudaException : Exception
{
    /// <summary>Creates an exception for a failed call.</summary>
    /// <param name="function">The C function that failed.</param>
    /// <param name="code">The numeric status it returned (0 when the failure is not a status code).</param>
    /// <param name="message">The full message.</param>
    public CudaException(string function, int code, string message) : base(message)
    {
        Function = function;
        Code = code;
    }

    /// <summary>Creates an exception that wraps another.</summary>
    public CudaException(string message, Exception? inner = null) : base(message, inner)
    {
        Function = "";
    }

    /// <summary>The C function that failed ("" when not tied to one call).</summary>
    public string Function { get; }

    /// <summary>The status the function returned (CUresult, nvrtcResult or cublasStatus_t).</summary>
    public int Code { get; }
}

/// <summary>
/// CUDA cannot be used on this machine: a library is missing, no driver or no device. The message lists every
/// place the native libraries were looked for and why each attempt failed.
/// </summary>
public sealed class CudaUnavailableException(string message) : CudaException(message);

/// <summary>
/// A device allocation failed even after the allocator released its cached blocks and retried once.
/// </summary>
public sealed class CudaOutOfMemoryException : CudaException
{
    /// <summary>Creates the exception.</summary>
    public CudaOutOfMemoryException(long requestedBytes, AllocatorStats stats, string detail)
        : base("cuMemAlloc_v2", 2, $"CUDA out of memory: could not allocate {AllocatorStats.FormatBytes(requestedBytes)} ({requestedBytes} bytes) after releasing the cache and retrying; allocator: {stats}{(detail.Length > 0 ? "; " + detail : "")}")
    {
        RequestedBytes = requestedBytes;
        Stats = stats;
    }

    /// <summary>The size of the allocation that failed.</summary>
    public long RequestedBytes { get; }

    /// <summary>The allocator's statistics at the time of failure.</summary>
    public AllocatorStats Stats { get; }
}
