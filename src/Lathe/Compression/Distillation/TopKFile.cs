using System.Buffers.Binary;
using System.Runtime.InteropServices;
using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization;
using Lathe.Data;

namespace Lathe.Compression.Distillation;

/// <summary>The JSON header of a top-k logits file: what the records were computed with, so a file that does not match
/// the run reading it is refused by name.</summary>
public sealed record TopKHeader
{
    public const string CurrentFormat = "lathe-topk/1";
    [JsonPropertyName("format")] public string Format { get; init; } = CurrentFormat;
    /// <summary>Ids kept per target position.</summary>
    [JsonPropertyName("k")] public int K { get; init; }
    /// <summary>The temperature the log-probabilities were taken at.</summary>
    [JsonPropertyName("temperature")] public float Temperature { get; init; }
    [JsonPropertyName("vocab_size")] public int VocabSize { get; init; }
    /// <summary>2 (uint16 ids, vocabularies up to 65,536) or 4 (int32).</summary>
    [JsonPropertyName("id_bytes")] public int IdBytes { get; init; }
    [JsonPropertyName("batch_size")] public int BatchSize { get; init; }
    [JsonPropertyName("block_size")] public int BlockSize { get; init; }
    /// <summary>The data order's seed (the trainer's --seed).</summary>
    [JsonPropertyName("seed")] public ulong Seed { get; init; }
    /// <summary>Records in the file: the micro-batches a run reads, in its order.</summary>
    [JsonPropertyName("micro_batches")] public long MicroBatches { get; init; }
    /// <summary><see cref="TokenizerAgreement.Fingerprint"/> of the teacher's tokenizer.</summary>
    [JsonPropertyName("tokenizer")] public string Tokenizer { get; init; } = "";
    /// <summary><see cref="TopKFile.DataFingerprint"/> of the training shards.</summary>
    [JsonPropertyName("data")] public string Data { get; init; } = "";
    /// <summary>Where the teacher came from (informational).</summary>
    [JsonPropertyName("teacher")] public string Teacher { get; init; } = "";

    /// <summary>Target positions per record (B·T).</summary>
    [JsonIgnore] public int Positions => BatchSize * BlockSize;
    /// <summary>Bytes of one record: an 8-byte hash of its inputs, then ids, log-probabilities and rest masses.</summary>
    [JsonIgnore] public long RecordBytes => 8 + (long)Positions * K * (IdBytes + 4) + (long)Positions * 4;
}

/// <summary>A file of the teacher's top-k log-probabilities per target position, computed once over a run's training
/// windows in the order the trainer reads them and reused by any student (sparse KD without the teacher).</summary>
/// <remarks>Layout (little-endian): the 8 bytes "LATHETOPK"[..8] = <c>LATHETK1</c>, a uint32 header length, the UTF-8 JSON
/// header (<see cref="TopKHeader"/>) padded with spaces to a multiple of 8, then <c>micro_batches</c> records of
/// <see cref="TopKHeader.RecordBytes"/> each: uint64 hash of the record's B·T input ids (the check that the data
/// order matches), (B·T, K) ids (uint16 or int32), (B·T, K) float32 log-probabilities at T sorted high to low, and
/// (B·T) float32 rest masses (the teacher's probability outside the K ids, summed over them, so 0 when K = V).
/// Fixed-size records let a resumed run seek straight to its micro-batch. Written atomically.</remarks>
public static class TopKFile
{
    static readonly byte[] Magic = "LATHETK1"u8.ToArray();
    static readonly JsonSerializerOptions Json = new() { WriteIndented = false };

    /// <summary>The fingerprint of a folder's training shards: the manifest's tokenizer fingerprint and each training
    /// range (file name, start, count), hashed; two folders that give the same windows have the same one.</summary>
    public static string DataFingerprint(ShardFolder data)
    {
        var sb = new StringBuilder();
        sb.Append(data.Manifest?.Tokenizer.Sha256 ?? "").Append('|');
        foreach (var r in data.Train) sb.Append(Path.GetFileName(r.Path)).Append(':').Append(r.Start).Append(':').Append(r.Count).Append('|');
        return Hash64.Of(sb.ToString()).ToString("x16");
    }

    /// <summary>The hash a record keeps of its input ids.</summary>
    public static ulong InputsHash(ReadOnlySpan<int> inputs)
    {
        ulong h = Hash64.Mix((ulong)inputs.Length);
        foreach (int id in inputs) h = Hash64.Mix(h ^ (uint)id);
        return h;
    }

    /// <summary>Writes <paramref name="header"/> and its records atomically; <paramref name="records"/> is called once per
    /// record with buffers to fill (inputs hash returned; ids (B·T·K), log-probs (B·T·K), rest (B·T)).</summary>
    public static void Write(string path, TopKHeader header, Func<long, int[], float[], float[], ulong> records, IProgress<long>? progress = null)
    {
        AtomicFile(path, stream =>
        {
            byte[] json = JsonSerializer.SerializeToUtf8Bytes(header, Json);
            int padded = (json.Length + 4 + 7) / 8 * 8 - 4;
            stream.Write(Magic);
            Span<byte> u32 = stackalloc byte[4];
            BinaryPrimitives.WriteUInt32LittleEndian(u32, (uint)padded);
            stream.Write(u32);
            stream.Write(json);
            for (int i = json.Length; i < padded; i++) stream.WriteByte((byte)' ');
            int n = header.Positions * header.K;
            var ids = new int[n];
            var logProbs = new float[n];
            var rest = new float[header.Positions];
            var record = new byte[header.RecordBytes];
            for (long m = 0; m < header.MicroBatches; m++)
            {
                ulong hash = records(m, ids, logProbs, rest);
                Encode(header, hash, ids, logProbs, rest, record);
                stream.Write(record);
                progress?.Report(m + 1);
            }
        });
    }

    static void AtomicFile(string path, Action<Stream> write) => Lathe.IO.AtomicFile.Write(path, write);

    static void Encode(TopKHeader h, ulong hash, int[] ids, float[] logProbs, float[] rest, byte[] record)
    {
        var span = record.AsSpan();
        BinaryPrimitives.WriteUInt64LittleEndian(span, hash);
        int at = 8;
        if (h.IdBytes == 2)
        {
            for (int i = 0; i < ids.Length; i++) BinaryPrimitives.WriteUInt16LittleEndian(span[(at + 2 * i)..], checked((ushort)ids[i]));
            at += 2 * ids.Length;
        }
        else
        {
            MemoryMarshal.AsBytes(ids.AsSpan()).CopyTo(span[at..]);
            at += 4 * ids.Length;
        }
        MemoryMarshal.AsBytes(logProbs.AsSpan()).CopyTo(span[at..]);
        at += 4 * logProbs.Length;
        MemoryMarshal.AsBytes(rest.AsSpan()).CopyTo(span[at..]);
    }

    /// <summary>The bytes per id for a vocabulary.</summary>
    public static int IdBytesFor(int vocabSize) => vocabSize <= 65536 ? 2 : 4;
}

/// <summary>Reads a top-k file's records by index into reused buffers, after checking its header and size.</summary>
public sealed class TopKReader : IDisposable
{
    readonly FileStream _stream;
    readonly long _dataStart;
    readonly byte[] _record;

    public TopKHeader Header { get; }
    public string Path { get; }

    public TopKReader(string path)
    {
        Path = path;
        if (!File.Exists(path)) throw new FileNotFoundException($"{path}: no such top-k file");
        _stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16);
        try
        {
            Span<byte> head = stackalloc byte[12];
            if (_stream.Read(head) != 12 || !head[..8].SequenceEqual("LATHETK1"u8))
                throw new InvalidDataException($"{path}: not a top-k logits file (made by `lathe distill --save-topk`)");
            uint length = BinaryPrimitives.ReadUInt32LittleEndian(head[8..]);
            if (length > 1 << 20) throw new InvalidDataException($"{path}: header length {length} is not plausible");
            var json = new byte[length];
            _stream.ReadExactly(json);
            TopKHeader? header;
            try { header = JsonSerializer.Deserialize<TopKHeader>(json); }
            catch (JsonException e) { throw new InvalidDataException($"{path}: header: {e.Message}"); }
            if (header is null || header.Format != TopKHeader.CurrentFormat)
                throw new InvalidDataException($"{path}: format '{header?.Format}' is not {TopKHeader.CurrentFormat}");
            if (header.K < 1 || header.K > header.VocabSize || header.IdBytes is not (2 or 4) || header.BatchSize < 1 || header.BlockSize < 1 || header.MicroBatches < 1)
                throw new InvalidDataException($"{path}: header: k {header.K}, vocab_size {header.VocabSize}, id_bytes {header.IdBytes}, batch {header.BatchSize}×{header.BlockSize}, {header.MicroBatches} micro-batches do not make a file");
            Header = header;
            _dataStart = 12 + length;
            long expected = _dataStart + header.MicroBatches * header.RecordBytes;
            if (_stream.Length != expected)
                throw new InvalidDataException($"{path}: {_stream.Length} bytes, but its header says {expected} (truncated or not written whole)");
            _record = new byte[header.RecordBytes];
        }
        catch { _stream.Dispose(); throw; }
    }

    /// <summary>Refuses, naming the field, a file made for another tokenizer, data, order or batch shape.</summary>
    public void RequireMatch(string tokenizerFingerprint, string dataFingerprint, int B, int T, ulong seed, long microBatches)
    {
        var h = Header;
        if (h.Tokenizer != tokenizerFingerprint) throw new InvalidDataException($"{Path}: tokenizer: the file was made with another tokenizer than the student's ({h.Tokenizer[..Math.Min(12, h.Tokenizer.Length)]}…)");
        if (h.Data != dataFingerprint) throw new InvalidDataException($"{Path}: data: the file was made from other training shards than --data gives");
        if (h.BatchSize != B) throw new InvalidDataException($"{Path}: batch_size: the file has {h.BatchSize}, the run --batch-size {B}");
        if (h.BlockSize != T) throw new InvalidDataException($"{Path}: block_size: the file has {h.BlockSize}, the run --block-size {T}");
        if (h.Seed != seed) throw new InvalidDataException($"{Path}: seed: the file's data order has seed {h.Seed}, the run --seed {seed}");
        if (h.MicroBatches < microBatches) throw new InvalidDataException($"{Path}: micro_batches: the file holds {h.MicroBatches}, the run reads {microBatches} (steps × grad-accum)");
    }

    /// <summary>Reads record <paramref name="index"/> into the buffers (ids and log-probs B·T·K, rest B·T); returns its inputs hash.</summary>
    public ulong Read(long index, int[] ids, float[] logProbs, float[] rest)
    {
        if ((ulong)index >= (ulong)Header.MicroBatches)
            throw new InvalidDataException($"{Path}: micro-batch {index} is past the file's {Header.MicroBatches}");
        _stream.Position = _dataStart + index * Header.RecordBytes;
        _stream.ReadExactly(_record);
        var span = _record.AsSpan();
        ulong hash = BinaryPrimitives.ReadUInt64LittleEndian(span);
        int n = Header.Positions * Header.K, at = 8;
        if (Header.IdBytes == 2)
        {
            for (int i = 0; i < n; i++) ids[i] = BinaryPrimitives.ReadUInt16LittleEndian(span[(at + 2 * i)..]);
            at += 2 * n;
        }
        else
        {
            span.Slice(at, 4 * n).CopyTo(MemoryMarshal.AsBytes(ids.AsSpan(0, n)));
            at += 4 * n;
        }
        span.Slice(at, 4 * n).CopyTo(MemoryMarshal.AsBytes(logProbs.AsSpan(0, n)));
        at += 4 * n;
        span.Slice(at, 4 * Header.Positions).CopyTo(MemoryMarshal.AsBytes(rest.AsSpan(0, Header.Positions)));
        for (int i = 0; i < n; i++)
            if ((uint)ids[i] >= (uint)Header.VocabSize) throw new InvalidDataException($"{Path}: micro-batch {index}: id {ids[i]} is outside the vocabulary of {Header.VocabSize}");
        return hash;
    }

    public void Dispose() => _stream.Dispose();
}
