using System.Buffers.Binary;
using System.Diagnostics;
using System.Text;
using Lathe.Tokenizers;
using Lathe.Distributed;

namespace Lathe.Data;

/// <summary>The data stage: documents → cleaned → deduplicated → tokenized into train/val shards.
/// Memory stays bounded by a batch of documents plus per-document dedup state (a hash, and b band keys when
/// near-dedup is on): near-dedup must see the whole corpus before it can say which member of a cluster is
/// first, so cleaned survivors of the first pass are spooled to a temporary file and re-read, not held.
/// Work is spread over threads in batches whose results are consumed in document order, so the output is
/// the same bit for bit for any thread count.
/// In a job of K ranks (<see cref="Communicator"/>; every rank reads the same source) the per-document work is dealt
/// out: document i of a batch is cleaned, hashed, MinHashed and (if it survives) tokenized by rank i mod K, its owner.
/// Only hashes and signatures are all-gathered, batch by batch, so every rank makes the same exact and near dedup
/// decisions in document order; the cleaned text stays with its owner, which sends rank 0 its token ids and its
/// train/val side. Rank 0 alone writes, so the output is the single process's.</summary>
public static class CorpusPipeline
{
    const int BatchDocuments = 256;
    const long BatchChars = 8 << 20;

    /// <summary>Cleans and deduplicates <paramref name="source"/>, yielding surviving documents in source order.
    /// Uses <paramref name="spoolPath"/> as scratch when near-dedup is on (deleted when enumeration ends).</summary>
    public static IEnumerable<Document> CleanAndDedup(IEnumerable<Document> source, PrepareOptions options, CorpusStats stats, string spoolPath) =>
        CleanAndDedup(source, options, stats, spoolPath, SingleProcess.Instance).Select(d => d.Document);

    // The surviving documents with whether this rank owns them. In a job of K ranks every rank yields the same
    // documents (each must enumerate to the end), but only an owned one carries its text (another's is empty); stats
    // hold every rank's counts.
    static IEnumerable<(Document Document, bool Mine)> CleanAndDedup(IEnumerable<Document> source, PrepareOptions options, CorpusStats stats,
        string spoolPath, Communicator world)
    {
        int rank = world.Rank, ranks = world.Size;
        var cleaner = new TextCleaner(options.Cleaning);
        var hasher = new MinHasher(options.NumHashes, options.ShingleWords, options.Seed);
        var dedup = new Deduplicator(options.NearDuplicateThreshold, options.NumHashes, options.NearDedup);
        stats.LshBands = options.NearDedup ? dedup.Bands.Bands : 0;
        stats.LshRows = options.NearDedup ? dedup.Bands.Rows : 0;
        int usedHashes = dedup.Bands.Bands * dedup.Bands.Rows;
        var batch = new List<Document>(BatchDocuments);
        var cleaned = new string?[BatchDocuments];
        var hashes = new ulong[BatchDocuments];
        var shingles = new int[BatchDocuments];
        var signatures = new uint[BatchDocuments * options.NumHashes];
        var parallel = new ParallelOptions { MaxDegreeOfParallelism = Math.Max(1, options.Threads) };
        var statsLock = new object();
        var clock = Stopwatch.StartNew();
        long docsSeen = 0, charsSeen = 0;

        if (!options.NearDedup)
        {
            foreach (var _ in AgreedBatches(source, batch, world))
            {
                RunBatch();
                for (int i = 0; i < batch.Count; i++)
                {
                    if (cleaned[i] is not { } text) continue;
                    if (options.ExactDedup && !dedup.Add(hashes[i], default)) continue;
                    stats.DocumentsKept++;
                    yield return (new Document(batch[i].Id, text), i % ranks == rank);
                }
                Report();
            }
            MergeCleaning(world, stats.Cleaning);
            stats.ExactDuplicates = dedup.ExactDuplicates;
            yield break;
        }

        int docIndex = 0;
        try
        {
            using (var spool = new BinaryWriter(new FileStream(spoolPath, FileMode.Create, FileAccess.Write, FileShare.None, 1 << 16), Encoding.UTF8))
            {
                foreach (var _ in AgreedBatches(source, batch, world))
                {
                    RunBatch();
                    for (int i = 0; i < batch.Count; i++)
                    {
                        if (cleaned[i] is not { } text) continue;
                        ulong hash = options.ExactDedup ? hashes[i] : (ulong)docIndex; // unique when exact dedup is off
                        var signature = shingles[i] > 0 ? signatures.AsSpan(i * options.NumHashes, usedHashes) : default;
                        if (dedup.Add(hash, signature))
                        {
                            spool.Write(docIndex);
                            spool.Write(batch[i].Id);
                            spool.Write(i % ranks == rank);
                            spool.Write(text);
                        }
                        docIndex++;
                    }
                    Report();
                }
                spool.Write(-1);
            }
            MergeCleaning(world, stats.Cleaning);
            stats.ExactDuplicates = dedup.ExactDuplicates;
            stats.NearDuplicates = dedup.CountNearDuplicates();
            using var reader = new BinaryReader(new FileStream(spoolPath, FileMode.Open, FileAccess.Read, FileShare.None, 1 << 16), Encoding.UTF8);
            while (true)
            {
                int index = reader.ReadInt32();
                if (index < 0) break;
                string id = reader.ReadString();
                bool mine = reader.ReadBoolean();
                string text = reader.ReadString();
                if (!dedup.Keep(index)) continue;
                stats.DocumentsKept++;
                yield return (new Document(id, text), mine);
            }
        }
        finally
        {
            try { File.Delete(spoolPath); } catch (IOException) { }
        }

        void RunBatch()
        {
            // This rank's documents of the batch: i = rank, rank + K, … (all of them in one process).
            int mine = (batch.Count - rank + ranks - 1) / ranks;
            Parallel.For(0, mine, parallel, () => new CleaningStats(), (j, _, local) =>
            {
                int i = rank + j * ranks;
                string? text = cleaner.Clean(batch[i].Text, local);
                cleaned[i] = text;
                if (text is not null)
                {
                    hashes[i] = Hash64.OfNormalized(text);
                    shingles[i] = options.NearDedup ? hasher.Signature(text, signatures.AsSpan(i * options.NumHashes, options.NumHashes)) : 0;
                }
                return local;
            }, local => { lock (statsLock) stats.Cleaning.Add(local); });
            if (ranks > 1) ExchangeCleaned(world, batch.Count, cleaned, hashes, shingles, signatures, options.NearDedup ? options.NumHashes : 0);
            docsSeen += batch.Count;
            for (int i = 0; i < batch.Count; i++) charsSeen += batch[i].Text.Length;
        }

        void Report() => options.Progress?.Invoke(
            $"cleaned {docsSeen:N0} docs, {charsSeen / 1e6:F1} M chars, {charsSeen / 1e6 / Math.Max(1e-9, clock.Elapsed.TotalSeconds):F1} M chars/s");
    }

    // Batches every rank of the job reads alike: before each batch (and at the end) the ranks compare its size, so a
    // rank whose source differs stops the job with one line naming it instead of leaving the others in an exchange.
    static IEnumerable<int> AgreedBatches(IEnumerable<Document> source, List<Document> batch, Communicator world)
    {
        if (world.Size == 1)
        {
            foreach (int n in Batches(source, batch)) yield return n;
            yield break;
        }
        int number = 0;
        using var e = Batches(source, batch).GetEnumerator();
        while (true)
        {
            // A source that fails (unreadable, bad JSON) fails on every rank alike: one line from rank 0, no hang.
            bool more = JobFence.Run(world, e.MoveNext, error => error is InvalidDataException or IOException or UnauthorizedAccessException or FormatException);
            long chars = 0;
            if (more) foreach (var doc in batch) chars += doc.Text.Length;
            world.CheckAgreement("the corpus", more ? $"batch {number}: {batch.Count} documents, {chars} chars" : $"batch {number}: the end of the corpus");
            if (!more) yield break;
            number++;
            yield return batch.Count;
        }
    }

    // Every rank's part of a cleaned batch (documents i ≡ rank mod K) to every rank: whether the document passed the
    // cleaning, its hash, and its MinHash signature when near-dedup is on. Another rank's passing document gets an
    // empty text here (its owner keeps the text).
    static void ExchangeCleaned(Communicator world, int count, string?[] cleaned, ulong[] hashes, int[] shingles, uint[] signatures, int numHashes)
    {
        int rank = world.Rank, ranks = world.Size;
        var buffer = new MemoryStream();
        using (var w = new BinaryWriter(buffer, Encoding.UTF8, leaveOpen: true))
            for (int i = rank; i < count; i += ranks)
            {
                w.Write(cleaned[i] is not null);
                if (cleaned[i] is null) continue;
                w.Write(hashes[i]);
                w.Write(shingles[i]);
                for (int h = 0; h < numHashes; h++) w.Write(signatures[i * numHashes + h]);
            }
        var parts = world.AllGatherBytes(buffer.ToArray());
        for (int r = 0; r < ranks; r++)
        {
            if (r == rank) continue;
            using var reader = new BinaryReader(new MemoryStream(parts[r]), Encoding.UTF8);
            for (int i = r; i < count; i += ranks)
            {
                if (!reader.ReadBoolean()) { cleaned[i] = null; continue; }
                cleaned[i] = "";
                hashes[i] = reader.ReadUInt64();
                shingles[i] = reader.ReadInt32();
                for (int h = 0; h < numHashes; h++) signatures[i * numHashes + h] = reader.ReadUInt32();
            }
        }
    }

    // Adds the other ranks' cleaning counts to this rank's, so every rank holds the job's totals.
    static void MergeCleaning(Communicator world, CleaningStats cleaning)
    {
        if (world.Size == 1) return;
        var mine = cleaning.Fields().Select(f => f.Value).ToArray();
        var bytes = new byte[mine.Length * sizeof(long)];
        for (int i = 0; i < mine.Length; i++) BinaryPrimitives.WriteInt64LittleEndian(bytes.AsSpan(i * sizeof(long)), mine[i]);
        var parts = world.AllGatherBytes(bytes);
        for (int r = 0; r < parts.Length; r++)
        {
            if (r == world.Rank) continue;
            var values = new long[mine.Length];
            for (int i = 0; i < values.Length; i++) values[i] = BinaryPrimitives.ReadInt64LittleEndian(parts[r].AsSpan(i * sizeof(long)));
            cleaning.Add(CleaningStats.FromValues(values));
        }
    }

    // Fills `batch` with up to BatchDocuments documents (or BatchChars chars) at a time.
    static IEnumerable<int> Batches(IEnumerable<Document> source, List<Document> batch) => Batches(source, batch, d => d.Text.Length);

    static IEnumerable<int> Batches<T>(IEnumerable<T> source, List<T> batch, Func<T, int> length)
    {
        long chars = 0;
        batch.Clear();
        foreach (var doc in source)
        {
            batch.Add(doc);
            chars += length(doc);
            if (batch.Count == BatchDocuments || chars >= BatchChars)
            {
                yield return batch.Count;
                batch.Clear();
                chars = 0;
            }
        }
        if (batch.Count > 0) yield return batch.Count;
    }

    /// <summary>True when the document with this text goes to the validation split: decided by a seeded hash
    /// of its text, so a document lands in the same split whatever else is in the corpus.</summary>
    public static bool IsValidation(string text, double fraction, ulong seed) =>
        fraction > 0 && (Hash64.Combine(seed, Hash64.Of(text)) >> 11) * (1.0 / (1UL << 53)) < fraction;

    /// <summary>Cleans, deduplicates and tokenizes <paramref name="source"/> into `{Name}_train_NNNNNN.bin` and
    /// `{Name}_val_NNNNNN.bin` shards in <paramref name="outDir"/> (each document preceded by the end-of-text id,
    /// as llm.c does), and writes stats.json, the tokenizer as tokenizer.json and manifest.json there
    /// (see <see cref="ShardFolder"/> and <see cref="ShardManifest"/>). A folder that already holds shards of another
    /// name made with a different tokenizer is refused before anything is written.</summary>
    /// <remarks>With a <paramref name="world"/> of K ranks (every rank calls this with the same source and options) the
    /// cleaning and tokenizing are dealt over the ranks; rank 0 alone checks and writes the folder, and its stats are
    /// the job's (another rank's are partial).</remarks>
    public static CorpusStats Prepare(IEnumerable<Document> source, ITextEncoder encoder, string outDir, PrepareOptions options, CorpusStats? stats = null,
        Communicator? world = null)
    {
        world ??= SingleProcess.Instance;
        int rank = world.Rank, ranks = world.Size;
        stats ??= new CorpusStats();
        var clock = Stopwatch.StartNew();
        // The folder is rank 0's: it alone checks and creates it; a failure there stops every rank with its message.
        var (tokenizerBytes, kept) = JobFence.Run<(byte[]?, List<ManifestShard>)>(world, () =>
        {
            if (!world.IsRoot) return (null, []);
            byte[]? bytes = TokenizerBytes(encoder, options);
            List<ManifestShard> foreign = bytes is null ? []
                : ForeignShards(outDir, options.Name, Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(bytes)));
            Directory.CreateDirectory(outDir);
            return (bytes, foreign);
        }, e => e is InvalidDataException or FileNotFoundException or DirectoryNotFoundException or UnauthorizedAccessException or IOException);
        var train = new ShardWriter(Path.Combine(outDir, $"{options.Name}_train"), encoder.VocabSize, options.TokensPerShard);
        var val = new ShardWriter(Path.Combine(outDir, $"{options.Name}_val"), encoder.VocabSize, options.TokensPerShard);
        string spool = world.IsRoot ? Path.Combine(outDir, $".{options.Name}.spool.{Environment.ProcessId}.tmp")
            : Path.Combine(Path.GetTempPath(), $".lathe-{options.Name}.spool.{Environment.ProcessId}.rank{rank}.tmp");
        var parallel = new ParallelOptions { MaxDegreeOfParallelism = Math.Max(1, options.Threads) };
        var batch = new List<(Document Document, bool Mine)>(BatchDocuments);
        var ids = new List<int>[BatchDocuments];
        for (int i = 0; i < ids.Length; i++) ids[i] = [];
        var isValidation = new bool[BatchDocuments];
        var mine = new List<int>(BatchDocuments);
        int eot = encoder.EndOfTextId;

        // In a job a rank holds only its own texts, so the batches are cut by count alone (the same on every rank).
        foreach (var _ in Batches(CleanAndDedup(source, options, stats, spool, world), batch, d => ranks > 1 ? 0 : d.Document.Text.Length))
        {
            // The documents this rank owns (all of them in one process) are tokenized and split here.
            mine.Clear();
            for (int i = 0; i < batch.Count; i++) if (batch[i].Mine) mine.Add(i);
            Parallel.For(0, mine.Count, parallel, j =>
            {
                int i = mine[j];
                ids[i].Clear();
                encoder.Encode(batch[i].Document.Text, ids[i]);
                isValidation[i] = IsValidation(batch[i].Document.Text, options.ValidationFraction, options.Seed);
            });
            if (ranks > 1) ExchangeTokens(world, mine, ids, isValidation);
            if (!world.IsRoot) continue;
            for (int i = 0; i < batch.Count; i++)
            {
                bool isVal = isValidation[i];
                var writer = isVal ? val : train;
                writer.Append([eot]);
                writer.Append(System.Runtime.InteropServices.CollectionsMarshal.AsSpan(ids[i]));
                if (isVal) stats.ValidationDocuments++; else stats.TrainDocuments++;
            }
        }
        if (!world.IsRoot) return stats;
        train.Finish();
        val.Finish();
        stats.TrainTokens = train.TotalTokens;
        stats.ValidationTokens = val.TotalTokens;
        stats.Shards.AddRange(train.Paths);
        stats.Shards.AddRange(val.Paths);
        // Shards of an earlier, longer run under the same name would otherwise be read as part of this corpus.
        foreach (var old in Directory.GetFiles(outDir, $"{options.Name}_*.bin"))
        {
            string file = Path.GetFileName(old);
            bool ours = file.StartsWith($"{options.Name}_train_", StringComparison.Ordinal) || file.StartsWith($"{options.Name}_val_", StringComparison.Ordinal);
            if (ours && !stats.Shards.Contains(old)) File.Delete(old);
        }
        stats.Seconds = clock.Elapsed.TotalSeconds;
        stats.Save(outDir);
        if (tokenizerBytes is not null)
        {
            IO.AtomicFile.WriteAllBytes(Path.Combine(outDir, ShardFolder.TokenizerFile), tokenizerBytes);
            WriteManifest(outDir, encoder, options, train, val, kept);
        }
        return stats;
    }

    // Every rank's token ids and train/val sides of the batch's documents it owns, to rank 0 (which writes them).
    // Record: index in the batch, validation flag, token count, tokens (little-endian int32s).
    static void ExchangeTokens(Communicator world, List<int> mine, List<int>[] ids, bool[] isValidation)
    {
        var buffer = new MemoryStream();
        using (var w = new BinaryWriter(buffer, Encoding.UTF8, leaveOpen: true))
            foreach (int i in mine)
            {
                w.Write(i);
                w.Write(isValidation[i]);
                w.Write(ids[i].Count);
                foreach (int id in ids[i]) w.Write(id);
            }
        var parts = world.AllGatherBytes(buffer.ToArray());
        if (!world.IsRoot) return;
        for (int r = 1; r < parts.Length; r++)
        {
            var part = parts[r];
            for (int at = 0; at < part.Length;)
            {
                int i = BinaryPrimitives.ReadInt32LittleEndian(part.AsSpan(at));
                isValidation[i] = part[at + 4] != 0;
                int n = BinaryPrimitives.ReadInt32LittleEndian(part.AsSpan(at + 5));
                at += 9;
                ids[i].Clear();
                for (int t = 0; t < n; t++, at += 4) ids[i].Add(BinaryPrimitives.ReadInt32LittleEndian(part.AsSpan(at)));
            }
        }
    }

    // The tokenizer.json to put beside the shards: the given file's bytes, else the encoder saved as tokenizer.json;
    // null for an encoder that has no tokenizer.json form (then neither tokenizer.json nor manifest.json is written).
    static byte[]? TokenizerBytes(ITextEncoder encoder, PrepareOptions options)
    {
        if (options.TokenizerFile is { } file)
        {
            if (!File.Exists(file)) throw new FileNotFoundException($"data: tokenizer {file} not found", file);
            return File.ReadAllBytes(file);
        }
        if (encoder is not ITokenizer tokenizer) return null;
        string temp = Path.Combine(Path.GetTempPath(), $"lathe-tokenizer-{Environment.ProcessId}-{Guid.NewGuid():N}.json");
        try
        {
            tokenizer.Save(temp);
            return File.ReadAllBytes(temp);
        }
        finally { File.Delete(temp); }
    }

    // Shards in outDir that this run will not rewrite (another --name): they may stay only when the folder's manifest
    // lists them as made with the same tokenizer; returns their manifest entries, to be carried into the new manifest.
    static List<ManifestShard> ForeignShards(string outDir, string name, string sha256)
    {
        var kept = new List<ManifestShard>();
        if (!Directory.Exists(outDir)) return kept;
        string manifestPath = Path.Combine(outDir, ShardManifest.FileName);
        var old = File.Exists(manifestPath) ? ShardManifest.Load(manifestPath) : null;
        foreach (var f in Directory.GetFiles(outDir, "*.bin"))
        {
            string file = Path.GetFileName(f);
            if (file.StartsWith($"{name}_train_", StringComparison.Ordinal) || file.StartsWith($"{name}_val_", StringComparison.Ordinal)) continue;
            var entry = old?.Shards.FirstOrDefault(s => s.File == file);
            if (old is null || entry is null || old.Tokenizer.Sha256 != sha256)
                throw new InvalidDataException($"data: {f} was made by another run{(old is null ? "" : " or tokenizer")} ({manifestPath}); " +
                    "shards of one folder must share one tokenizer — choose another --out or remove it");
            kept.Add(entry);
        }
        kept.Sort((a, b) => string.CompareOrdinal(a.File, b.File));
        return kept;
    }

    static void WriteManifest(string outDir, ITextEncoder encoder, PrepareOptions options, ShardWriter train, ShardWriter val, List<ManifestShard> kept)
    {
        var shards = new List<ManifestShard>(kept);
        foreach (var p in train.Paths.Concat(val.Paths))
        {
            using var shard = TokenShard.Open(p);
            string file = Path.GetFileName(p);
            shards.Add(new ManifestShard { File = file, Split = ShardFolder.IsValidationName(file) ? "val" : "train", Tokens = shard.Count });
        }
        shards.Sort((a, b) => string.CompareOrdinal(a.File, b.File));
        var specials = new List<ManifestSpecialToken>();
        if (encoder is ITokenizer tokenizer)
            foreach (var (text, id) in tokenizer.SpecialTokens.OrderBy(s => s.Id)) specials.Add(new ManifestSpecialToken { Text = text, Id = id });
        string tokenizerPath = Path.Combine(outDir, ShardFolder.TokenizerFile);
        new ShardManifest
        {
            VocabSize = encoder.VocabSize,
            EndOfTextId = encoder.EndOfTextId,
            SpecialTokens = specials,
            Tokenizer = new ManifestTokenizer { Sha256 = ShardManifest.Fingerprint(tokenizerPath), Source = options.TokenizerSource },
            Source = options.SourceName,
            TrainTokens = shards.Where(s => s.Split == "train").Sum(s => s.Tokens),
            ValidationTokens = shards.Where(s => s.Split == "val").Sum(s => s.Tokens),
            Shards = shards,
        }.Save(outDir);
    }
}
