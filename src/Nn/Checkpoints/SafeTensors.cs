using System.Buffers.Binary;
using System.Runtime.InteropServices;
using System.Security.Cryptography;
using System.Text.Json;

namespace Engine.Nn.Checkpoints;

/// <summary>What a loader expects of one tensor: its dtype and shape.</summary>
/// <param name="DType">Element type.</param>
/// <param name="Shape">Dimensions.</param>
public sealed record TensorSpec(DType DType, int[] Shape)
{
    /// <summary>The spec of an existing tensor.</summary>
    public static TensorSpec Of(Tensor t) => new(t.DType, t.Shape);

    /// <summary>"F32[64, 32]".</summary>
    public override string ToString() => $"{SafeTensors.DTypeCode(DType)}[{string.Join(", ", Shape)}]";
}

/// <summary>One tensor's entry in a safetensors header.</summary>
/// <param name="Name">Tensor name.</param>
/// <param name="DType">Element type.</param>
/// <param name="Shape">Dimensions.</param>
/// <param name="Begin">First byte, relative to the start of the data section.</param>
/// <param name="End">One past the last byte, relative to the start of the data section.</param>
public sealed record SafeTensorsEntry(string Name, DType DType, int[] Shape, long Begin, long End);

/// <summary>
/// Reads and writes the safetensors format (https://github.com/huggingface/safetensors), so checkpoints open in
/// Python with <c>safetensors.torch.load_file</c> or <c>safetensors.numpy.load_file</c>:
/// <code>
/// [8 bytes: N, unsigned little-endian] [N bytes: UTF-8 JSON header, padded with spaces] [data section]
/// header = { "__metadata__": { "key": "value", … },            (optional, strings only)
///            "name": { "dtype": "F32", "shape": [64, 32], "data_offsets": [begin, end] }, … }
/// </code>
/// Offsets are relative to the data section; tensors are row-major and little-endian; the data section is covered
/// by the tensors exactly, with no holes or overlaps. Supported dtypes: F32, F64 and I32.
/// <para>
/// Reading treats the file as untrusted: the header length is bounded by <see cref="MaxHeaderBytes"/> and by the
/// file size, every offset and shape is checked before anything is allocated (so an allocation never exceeds the
/// file's size), and every failure is a <see cref="CheckpointException"/> naming the file and the tensor.
/// </para>
/// </summary>
public static class SafeTensors
{
    /// <summary>Largest accepted header (100 MB).</summary>
    public const long MaxHeaderBytes = 100L * 1024 * 1024;

    /// <summary>
    /// The <c>__metadata__</c> key holding the lower-case hex SHA-256 of the data section. Files written here always have
    /// it and readers verify it when present (other tools ignore it), so flipped bits in tensor data are detected.
    /// </summary>
    public const string ChecksumKey = "data_sha256";

    /// <summary>Largest accepted rank.</summary>
    public const int MaxRank = 16;

    /// <summary>The safetensors dtype code of a dtype ("F32", "F64", "I32").</summary>
    public static string DTypeCode(DType dtype) => dtype switch
    {
        DType.Float32 => "F32",
        DType.Float64 => "F64",
        DType.Int32 => "I32",
        _ => throw new ArgumentOutOfRangeException(nameof(dtype), dtype, "safetensors: unsupported dtype"),
    };

    private static bool TryParseDType(string code, out DType dtype)
    {
        switch (code)
        {
            case "F32": dtype = DType.Float32; return true;
            case "F64": dtype = DType.Float64; return true;
            case "I32": dtype = DType.Int32; return true;
            default: dtype = default; return false;
        }
    }

    // ---------------------------------------------------------------- writing

    /// <summary>
    /// Writes tensors (in the given order) and optional string metadata to a stream. Names must be unique, non-empty
    /// and not "__metadata__".
    /// </summary>
    /// <exception cref="ArgumentException">A name is empty, reserved or repeated.</exception>
    public static void Write(Stream stream, IEnumerable<KeyValuePair<string, Tensor>> tensors, IReadOnlyDictionary<string, string>? metadata = null)
    {
        ArgumentNullException.ThrowIfNull(stream);
        ArgumentNullException.ThrowIfNull(tensors);
        var list = tensors.ToList();
        var names = new HashSet<string>(StringComparer.Ordinal);
        foreach (var (name, t) in list)
        {
            if (string.IsNullOrEmpty(name) || name == "__metadata__") throw new ArgumentException($"safetensors: invalid tensor name '{name}'");
            if (!names.Add(name)) throw new ArgumentException($"safetensors: tensor name '{name}' appears twice");
            ArgumentNullException.ThrowIfNull(t, name);
        }

        // Tensor bytes first: their SHA-256 goes into the header, so that a reader detects corrupted data too.
        var payloads = list.Select(p => p.Value.DType switch
        {
            DType.Float32 => LittleEndianBytes(p.Value.ToArray<float>()),
            DType.Float64 => LittleEndianBytes(p.Value.ToArray<double>()),
            DType.Int32 => LittleEndianBytes(p.Value.ToArray<int>()),
            _ => throw new ArgumentException($"safetensors: tensor '{p.Key}' has unsupported dtype {p.Value.DType}"),
        }).ToList();
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        foreach (var bytes in payloads) hash.AppendData(bytes);
        var meta = new Dictionary<string, string>(StringComparer.Ordinal);
        if (metadata is not null)
            foreach (var (k, v) in metadata)
            {
                if (k == ChecksumKey) throw new ArgumentException($"safetensors: metadata key '{ChecksumKey}' is reserved for the data checksum");
                meta[k] = v;
            }
        meta[ChecksumKey] = Convert.ToHexStringLower(hash.GetHashAndReset());

        using var headerBuffer = new MemoryStream();
        using (var w = new Utf8JsonWriter(headerBuffer))
        {
            w.WriteStartObject();
            w.WriteStartObject("__metadata__");
            foreach (var (k, v) in meta) w.WriteString(k, v);
            w.WriteEndObject();
            long offset = 0;
            foreach (var (name, t) in list)
            {
                long bytes = (long)t.Count * t.DType.SizeOf();
                w.WriteStartObject(name);
                w.WriteString("dtype", DTypeCode(t.DType));
                w.WriteStartArray("shape");
                foreach (var d in t.Shape) w.WriteNumberValue(d);
                w.WriteEndArray();
                w.WriteStartArray("data_offsets");
                w.WriteNumberValue(offset);
                w.WriteNumberValue(offset + bytes);
                w.WriteEndArray();
                w.WriteEndObject();
                offset += bytes;
            }
            w.WriteEndObject();
        }
        // Pad the header with spaces so that the data section starts 8-byte aligned (as the reference writer does).
        int headerLength = (int)headerBuffer.Length;
        int padded = (headerLength + 7) / 8 * 8;
        Span<byte> prefix = stackalloc byte[8];
        BinaryPrimitives.WriteUInt64LittleEndian(prefix, (ulong)padded);
        stream.Write(prefix);
        stream.Write(headerBuffer.GetBuffer().AsSpan(0, headerLength));
        for (int i = headerLength; i < padded; i++) stream.WriteByte((byte)' ');

        const int chunk = 1 << 20;
        foreach (var bytes in payloads)
            for (int i = 0; i < bytes.Length; i += chunk) stream.Write(bytes, i, Math.Min(chunk, bytes.Length - i));
    }

    private static byte[] LittleEndianBytes<T>(T[] values) where T : unmanaged
    {
        var bytes = MemoryMarshal.AsBytes(values.AsSpan()).ToArray();
        if (!BitConverter.IsLittleEndian) ReverseEndianness<T>(bytes);
        return bytes;
    }

    private static void ReverseEndianness<T>(Span<byte> bytes) where T : unmanaged
    {
        int size = Marshal.SizeOf<T>();
        for (int i = 0; i < bytes.Length; i += size) bytes.Slice(i, size).Reverse();
    }

    /// <summary>Writes a safetensors file (not atomically; see <see cref="CheckpointStore"/> for atomic checkpoints).</summary>
    public static void Save(string path, IEnumerable<KeyValuePair<string, Tensor>> tensors, IReadOnlyDictionary<string, string>? metadata = null)
    {
        using var f = new FileStream(path, FileMode.Create, FileAccess.Write, FileShare.None);
        Write(f, tensors, metadata);
        f.Flush(flushToDisk: true);
    }

    // ---------------------------------------------------------------- reading

    /// <summary>A parsed and validated safetensors file, open for reading tensors.</summary>
    public sealed class Reader : IDisposable
    {
        private readonly FileStream file;
        private readonly long dataStart;
        private readonly Dictionary<string, SafeTensorsEntry> entries;

        internal Reader(FileStream file, string path, long dataStart, List<SafeTensorsEntry> ordered, Dictionary<string, string> metadata)
        {
            this.file = file;
            Path = path;
            this.dataStart = dataStart;
            Entries = ordered;
            entries = ordered.ToDictionary(e => e.Name, StringComparer.Ordinal);
            Metadata = metadata;
        }

        /// <summary>The file path (as given).</summary>
        public string Path { get; }
        /// <summary>The entries in header order.</summary>
        public IReadOnlyList<SafeTensorsEntry> Entries { get; }
        /// <summary>The "__metadata__" strings (empty when absent).</summary>
        public IReadOnlyDictionary<string, string> Metadata { get; }

        /// <summary>True when the file has a tensor of this name.</summary>
        public bool Contains(string name) => entries.ContainsKey(name);

        /// <summary>Reads one tensor.</summary>
        /// <exception cref="CheckpointException">The tensor is absent or its bytes cannot be read.</exception>
        public Tensor Read(string name)
        {
            if (!entries.TryGetValue(name, out var e)) throw new CheckpointException($"{Path}: has no tensor '{name}'");
            int count = checked((int)((e.End - e.Begin) / e.DType.SizeOf()));
            return e.DType switch
            {
                DType.Float32 => Tensor.FromArray<float>(ReadValues<float>(e, count), e.Shape),
                DType.Float64 => Tensor.FromArray<double>(ReadValues<double>(e, count), e.Shape),
                DType.Int32 => Tensor.FromArray<int>(ReadValues<int>(e, count), e.Shape),
                _ => throw new CheckpointException($"{Path}: tensor '{name}' has unsupported dtype"),
            };
        }

        private T[] ReadValues<T>(SafeTensorsEntry e, int count) where T : unmanaged
        {
            var values = new T[count];
            var bytes = MemoryMarshal.AsBytes(values.AsSpan());
            long at = dataStart + e.Begin;
            int done = 0;
            while (done < bytes.Length)
            {
                int n = RandomAccess.Read(file.SafeFileHandle, bytes[done..], at + done);
                if (n <= 0) throw new CheckpointException($"{Path}: tensor '{e.Name}' is truncated (file ended {bytes.Length - done} bytes early); the file changed while it was read");
                done += n;
            }
            if (!BitConverter.IsLittleEndian) ReverseEndianness<T>(bytes);
            return values;
        }

        /// <summary>
        /// Reads every tensor after checking the file against what the caller expects: the same set of names, and
        /// for each its dtype and shape. Any difference is an error naming the tensor.
        /// </summary>
        /// <exception cref="CheckpointException">A tensor is missing, unexpected, or of another dtype or shape.</exception>
        public Dictionary<string, Tensor> ReadAll(IReadOnlyDictionary<string, TensorSpec> expected, string what = "model")
        {
            Check(expected, what);
            return Entries.ToDictionary(e => e.Name, e => Read(e.Name), StringComparer.Ordinal);
        }

        /// <summary>
        /// Checks the header against what the caller expects (the same set of names, and for each its dtype and
        /// shape) without reading any tensor data, so a caller can validate before it allocates anything.
        /// </summary>
        /// <exception cref="CheckpointException">A tensor is missing, unexpected, or of another dtype or shape.</exception>
        public void Check(IReadOnlyDictionary<string, TensorSpec> expected, string what = "model")
        {
            ArgumentNullException.ThrowIfNull(expected);
            foreach (var (name, spec) in expected)
            {
                if (!entries.TryGetValue(name, out var e))
                    throw new CheckpointException($"{Path}: tensor '{name}' ({spec}) expected by the {what} is missing from the file");
                if (e.DType != spec.DType)
                    throw new CheckpointException($"{Path}: tensor '{name}' has dtype {DTypeCode(e.DType)} in the file, the {what} expects {DTypeCode(spec.DType)}");
                if (!e.Shape.AsSpan().SequenceEqual(spec.Shape))
                    throw new CheckpointException($"{Path}: tensor '{name}' has shape [{string.Join(", ", e.Shape)}] in the file, the {what} expects [{string.Join(", ", spec.Shape)}]");
            }
            foreach (var e in Entries)
                if (!expected.ContainsKey(e.Name))
                    throw new CheckpointException($"{Path}: tensor '{e.Name}' in the file is not part of the {what}");
        }

        /// <summary>Reads every tensor, whatever its name, dtype or shape (still bounds-checked).</summary>
        public Dictionary<string, Tensor> ReadAll() => Entries.ToDictionary(e => e.Name, e => Read(e.Name), StringComparer.Ordinal);

        /// <summary>Closes the file.</summary>
        public void Dispose() => file.Dispose();
    }

    /// <summary>Opens and validates a safetensors file.</summary>
    /// <exception cref="CheckpointException">The file is missing, truncated or malformed (the message says how).</exception>
    public static Reader Open(string path)
    {
        ArgumentNullException.ThrowIfNull(path);
        if (Data.RegularFile.NotRegular(path) is { } reason) throw new CheckpointException($"{path}: {reason}");
        FileStream file;
        try { file = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new CheckpointException($"{path}: cannot open ({e.Message})", e);
        }
        try
        {
            long fileLength = file.Length;
            if (fileLength < 8) throw new CheckpointException($"{path}: truncated: {fileLength} bytes, too short for the 8-byte header length");
            Span<byte> prefix = stackalloc byte[8];
            ReadExactly(file, path, prefix, 0);
            ulong n = BinaryPrimitives.ReadUInt64LittleEndian(prefix);
            if (n == 0) throw new CheckpointException($"{path}: header length is 0");
            if (n > (ulong)MaxHeaderBytes) throw new CheckpointException($"{path}: header length {n} exceeds the limit of {MaxHeaderBytes} bytes (not a safetensors file, or corrupted)");
            if (n > (ulong)(fileLength - 8)) throw new CheckpointException($"{path}: truncated: header length {n} but only {fileLength - 8} bytes follow");
            var header = new byte[(int)n];
            ReadExactly(file, path, header, 8);
            long dataStart = 8 + (long)n;
            var (entries, metadata) = ParseHeader(path, header, fileLength - dataStart);
            if (metadata.TryGetValue(ChecksumKey, out var expected)) VerifyChecksum(file, path, dataStart, fileLength, expected);
            return new Reader(file, path, dataStart, entries, metadata);
        }
        catch
        {
            file.Dispose();
            throw;
        }
    }

    private static void VerifyChecksum(FileStream file, string path, long dataStart, long fileLength, string expected)
    {
        if (expected.Length != 64 || !expected.All(char.IsAsciiHexDigitLower))
            throw new CheckpointException($"{path}: __metadata__ {ChecksumKey} is not a lower-case hex SHA-256");
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        var buffer = new byte[(int)Math.Min(1 << 20, Math.Max(1, fileLength - dataStart))];
        for (long at = dataStart; at < fileLength;)
        {
            int n = RandomAccess.Read(file.SafeFileHandle, buffer.AsSpan(0, (int)Math.Min(buffer.Length, fileLength - at)), at);
            if (n <= 0) throw new CheckpointException($"{path}: truncated while checking the data checksum");
            hash.AppendData(buffer, 0, n);
            at += n;
        }
        string actual = Convert.ToHexStringLower(hash.GetHashAndReset());
        if (actual != expected)
            throw new CheckpointException($"{path}: the tensor data is corrupted (SHA-256 {actual}, the header records {expected})");
    }

    private static void ReadExactly(FileStream file, string path, Span<byte> buffer, long offset)
    {
        int done = 0;
        while (done < buffer.Length)
        {
            int n = RandomAccess.Read(file.SafeFileHandle, buffer[done..], offset + done);
            if (n <= 0) throw new CheckpointException($"{path}: truncated while reading the header");
            done += n;
        }
    }

    internal static (List<SafeTensorsEntry> Entries, Dictionary<string, string> Metadata) ParseHeader(string path, byte[] header, long dataLength)
    {
        if (!System.Text.Unicode.Utf8.IsValid(header)) throw new CheckpointException($"{path}: header is not valid UTF-8");
        JsonDocument doc;
        try
        {
            doc = JsonDocument.Parse(header, new JsonDocumentOptions { MaxDepth = 4, AllowTrailingCommas = false, CommentHandling = JsonCommentHandling.Disallow });
        }
        catch (JsonException e)
        {
            throw new CheckpointException($"{path}: header is not valid JSON ({e.Message})", e);
        }
        catch (ArgumentException e)
        {
            throw new CheckpointException($"{path}: header is not valid UTF-8 JSON ({e.Message})", e);
        }
        using (doc)
        {
            var root = doc.RootElement;
            if (root.ValueKind != JsonValueKind.Object) throw new CheckpointException($"{path}: header must be a JSON object, found {root.ValueKind}");
            var seen = new HashSet<string>(StringComparer.Ordinal);
            var entries = new List<SafeTensorsEntry>();
            var metadata = new Dictionary<string, string>(StringComparer.Ordinal);
            foreach (var p in root.EnumerateObject())
            {
                if (!seen.Add(p.Name)) throw new CheckpointException($"{path}: header lists '{p.Name}' twice");
                if (p.Name == "__metadata__")
                {
                    if (p.Value.ValueKind != JsonValueKind.Object) throw new CheckpointException($"{path}: __metadata__ must be an object of strings");
                    foreach (var m in p.Value.EnumerateObject())
                    {
                        if (m.Value.ValueKind != JsonValueKind.String) throw new CheckpointException($"{path}: __metadata__ entry '{m.Name}' is not a string");
                        if (!metadata.TryAdd(m.Name, m.Value.GetString()!)) throw new CheckpointException($"{path}: __metadata__ lists '{m.Name}' twice");
                    }
                    continue;
                }
                entries.Add(ParseEntry(path, p.Name, p.Value, dataLength));
            }
            // The data section must be covered exactly: sorted by offset, each tensor starts where the previous ended.
            long expectedBegin = 0;
            foreach (var e in entries.OrderBy(e => e.Begin).ThenBy(e => e.End))
            {
                if (e.Begin < expectedBegin) throw new CheckpointException($"{path}: tensor '{e.Name}' overlaps another tensor (bytes [{e.Begin}, {e.End}) start before {expectedBegin})");
                if (e.Begin > expectedBegin) throw new CheckpointException($"{path}: hole in the data section before tensor '{e.Name}' (bytes [{expectedBegin}, {e.Begin}) belong to no tensor)");
                expectedBegin = e.End;
            }
            if (expectedBegin != dataLength)
                throw new CheckpointException($"{path}: the data section has {dataLength} bytes but the tensors cover {expectedBegin} (truncated or trailing bytes)");
            return (entries, metadata);
        }
    }

    private static SafeTensorsEntry ParseEntry(string path, string name, JsonElement v, long dataLength)
    {
        string where = $"{path}: tensor '{name}'";
        if (v.ValueKind != JsonValueKind.Object) throw new CheckpointException($"{where}: entry must be an object");
        JsonElement dtypeEl = default, shapeEl = default, offsetsEl = default;
        bool hasD = false, hasS = false, hasO = false;
        foreach (var f in v.EnumerateObject())
        {
            switch (f.Name)
            {
                case "dtype": if (hasD) throw Dup(); dtypeEl = f.Value; hasD = true; break;
                case "shape": if (hasS) throw Dup(); shapeEl = f.Value; hasS = true; break;
                case "data_offsets": if (hasO) throw Dup(); offsetsEl = f.Value; hasO = true; break;
                default: throw new CheckpointException($"{where}: unknown field '{f.Name}'");
            }
            CheckpointException Dup() => new($"{where}: field '{f.Name}' appears twice");
        }
        if (!hasD || !hasS || !hasO) throw new CheckpointException($"{where}: entry needs dtype, shape and data_offsets");
        if (dtypeEl.ValueKind != JsonValueKind.String) throw new CheckpointException($"{where}: dtype must be a string");
        string code = dtypeEl.GetString()!;
        if (!TryParseDType(code, out var dtype)) throw new CheckpointException($"{where}: dtype '{code}' is not supported (F32, F64, I32)");
        if (shapeEl.ValueKind != JsonValueKind.Array) throw new CheckpointException($"{where}: shape must be an array");
        int rank = shapeEl.GetArrayLength();
        if (rank > MaxRank) throw new CheckpointException($"{where}: rank {rank} exceeds {MaxRank}");
        var shape = new int[rank];
        long count = 1;
        int i = 0;
        foreach (var d in shapeEl.EnumerateArray())
        {
            if (d.ValueKind != JsonValueKind.Number || !d.TryGetInt32(out int dim) || dim < 0)
                throw new CheckpointException($"{where}: shape entry #{i} is not a non-negative 32-bit integer");
            shape[i++] = dim;
            count *= dim;
            if (count > int.MaxValue) throw new CheckpointException($"{where}: shape [{string.Join(", ", shape[..i])}…] has more than {int.MaxValue} elements");
        }
        if (offsetsEl.ValueKind != JsonValueKind.Array || offsetsEl.GetArrayLength() != 2)
            throw new CheckpointException($"{where}: data_offsets must be an array of two integers");
        var begin = offsetsEl[0];
        var end = offsetsEl[1];
        if (begin.ValueKind != JsonValueKind.Number || !begin.TryGetInt64(out long b) || b < 0 ||
            end.ValueKind != JsonValueKind.Number || !end.TryGetInt64(out long e) || e < 0)
            throw new CheckpointException($"{where}: data_offsets must be two non-negative integers");
        if (b > e) throw new CheckpointException($"{where}: data_offsets [{b}, {e}] end before they begin");
        if (e > dataLength) throw new CheckpointException($"{where}: data_offsets [{b}, {e}] reach past the data section of {dataLength} bytes (truncated file?)");
        long bytes = count * dtype.SizeOf();
        if (e - b != bytes) throw new CheckpointException($"{where}: data_offsets [{b}, {e}] span {e - b} bytes but {code}[{string.Join(", ", shape)}] needs {bytes}");
        return new SafeTensorsEntry(name, dtype, shape, b, e);
    }
}
