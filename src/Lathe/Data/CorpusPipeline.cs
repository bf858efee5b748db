using System.Diagnostics;
using System.Text;
using Lathe.Tokenizers;

namespace Lathe.Data;

/// <summary>The data stage: documents → cleaned → deduplicated → tokenized into train/val shards.
/// Memory stays bounded by a batch of documents plus per-document dedup state (a hash, and b band keys when
/// near-dedup is on): near-dedup must see the whole corpus before it can say which member of a cluster is
/// first, so cleaned survivors of the first pass are spooled to a temporary file and re-read, not held.
/// Work is spread over threads in batches whose results are consumed in document order, so the output is
/// the same bit for bit for any thread count.</summary>
public static class CorpusPipeline
{
    const int BatchDocuments = 256;
    const long BatchChars = 8 << 20;

    /// <summary>Cleans and deduplicates <paramref name="source"/>, yielding surviving documents in source order.
    /// Uses <paramref name="spoolPath"/> as scratch when near-dedup is on (deleted when enumeration ends).</summary>
    public static IEnumerable<Document> CleanAndDedup(IEnumerable<Document> source, PrepareOptions options, CorpusStats stats, string spoolPath)
    {
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
            foreach (var _ in Batches(source, batch))
            {
                RunBatch();
                for (int i = 0; i < batch.Count; i++)
                {
                    if (cleaned[i] is not { } text) continue;
                    if (options.ExactDedup && !dedup.Add(hashes[i], default)) continue;
                    stats.DocumentsKept++;
                    yield return new Document(batch[i].Id, text);
                }
                Report();
            }
            stats.ExactDuplicates = dedup.ExactDuplicates;
            yield break;
        }

        int docIndex = 0;
        try
        {
            using (var spool = new BinaryWriter(new FileStream(spoolPath, FileMode.Create, FileAccess.Write, FileShare.None, 1 << 16), Encoding.UTF8))
            {
                foreach (var _ in Batches(source, batch))
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
                            spool.Write(text);
                        }
                        docIndex++;
                    }
                    Report();
                }
                spool.Write(-1);
            }
            stats.ExactDuplicates = dedup.ExactDuplicates;
            stats.NearDuplicates = dedup.CountNearDuplicates();
            using var reader = new BinaryReader(new FileStream(spoolPath, FileMode.Open, FileAccess.Read, FileShare.None, 1 << 16), Encoding.UTF8);
            while (true)
            {
                int index = reader.ReadInt32();
                if (index < 0) break;
                string id = reader.ReadString(), text = reader.ReadString();
                if (!dedup.Keep(index)) continue;
                stats.DocumentsKept++;
                yield return new Document(id, text);
            }
        }
        finally
        {
            try { File.Delete(spoolPath); } catch (IOException) { }
        }

        void RunBatch()
        {
            Parallel.For(0, batch.Count, parallel, () => new CleaningStats(), (i, _, local) =>
            {
                string? text = cleaner.Clean(batch[i].Text, local);
                cleaned[i] = text;
                if (text is not null)
                {
                    hashes[i] = Hash64.OfNormalized(text);
                    shingles[i] = options.NearDedup ? hasher.Signature(text, signatures.AsSpan(i * options.NumHashes, options.NumHashes)) : 0;
                }
                return local;
            }, local => { lock (statsLock) stats.Cleaning.Add(local); });
            docsSeen += batch.Count;
            for (int i = 0; i < batch.Count; i++) charsSeen += batch[i].Text.Length;
        }

        void Report() => options.Progress?.Invoke(
            $"cleaned {docsSeen:N0} docs, {charsSeen / 1e6:F1} M chars, {charsSeen / 1e6 / Math.Max(1e-9, clock.Elapsed.TotalSeconds):F1} M chars/s");
    }

    // Fills `batch` with up to BatchDocuments documents (or BatchChars chars) at a time.
    static IEnumerable<int> Batches(IEnumerable<Document> source, List<Document> batch)
    {
        long chars = 0;
        batch.Clear();
        foreach (var doc in source)
        {
            batch.Add(doc);
            chars += doc.Text.Length;
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
    public static CorpusStats Prepare(IEnumerable<Document> source, ITextEncoder encoder, string outDir, PrepareOptions options, CorpusStats? stats = null)
    {
        stats ??= new CorpusStats();
        var clock = Stopwatch.StartNew();
        byte[]? tokenizerBytes = TokenizerBytes(encoder, options);
        List<ManifestShard> kept = tokenizerBytes is null ? []
            : ForeignShards(outDir, options.Name, Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(tokenizerBytes)));
        Directory.CreateDirectory(outDir);
        var train = new ShardWriter(Path.Combine(outDir, $"{options.Name}_train"), encoder.VocabSize, options.TokensPerShard);
        var val = new ShardWriter(Path.Combine(outDir, $"{options.Name}_val"), encoder.VocabSize, options.TokensPerShard);
        string spool = Path.Combine(outDir, $".{options.Name}.spool.{Environment.ProcessId}.tmp");
        var parallel = new ParallelOptions { MaxDegreeOfParallelism = Math.Max(1, options.Threads) };
        var batch = new List<Document>(BatchDocuments);
        var ids = new List<int>[BatchDocuments];
        for (int i = 0; i < ids.Length; i++) ids[i] = [];
        int eot = encoder.EndOfTextId;

        foreach (var _ in Batches(CleanAndDedup(source, options, stats, spool), batch))
        {
            Parallel.For(0, batch.Count, parallel, i =>
            {
                ids[i].Clear();
                encoder.Encode(batch[i].Text, ids[i]);
            });
            for (int i = 0; i < batch.Count; i++)
            {
                bool isVal = IsValidation(batch[i].Text, options.ValidationFraction, options.Seed);
                var writer = isVal ? val : train;
                writer.Append([eot]);
                writer.Append(System.Runtime.InteropServices.CollectionsMarshal.AsSpan(ids[i]));
                if (isVal) stats.ValidationDocuments++; else stats.TrainDocuments++;
            }
        }
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
