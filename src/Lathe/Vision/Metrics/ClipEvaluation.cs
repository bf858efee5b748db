using System.Text.Json.Serialization;
using Lathe.Tensors;
using Lathe.Tensors.Autograd;
using Lathe.Tokenizers;
using Lathe.Vision.Architectures;
using Lathe.Vision.Data;

namespace Lathe.Vision.Metrics;

/// <summary>What <see cref="ClipEvaluation"/> measured.</summary>
public sealed record ClipEvaluationResult
{
    /// <summary>Zero-shot accuracy with class prompts ("a photo of {a} {c}", …; embeddings of a class's prompts averaged
    /// and renormalised, as CLIP §3.1.4 ensembles prompts).</summary>
    [JsonPropertyName("zero_shot_accuracy")] public double ZeroShotAccuracy { get; init; }
    /// <summary>Zero-shot accuracy when each class's prompt set is every caption template with every attribute value
    /// (8 × 54 captions per class, averaged).</summary>
    [JsonPropertyName("zero_shot_accuracy_attribute_ensemble")] public double ZeroShotAttributeEnsemble { get; init; }
    [JsonPropertyName("test_images")] public int TestImages { get; init; }
    [JsonPropertyName("image_to_text_recall_at_1")] public double ImageToTextR1 { get; init; }
    [JsonPropertyName("image_to_text_recall_at_5")] public double ImageToTextR5 { get; init; }
    [JsonPropertyName("text_to_image_recall_at_1")] public double TextToImageR1 { get; init; }
    [JsonPropertyName("text_to_image_recall_at_5")] public double TextToImageR5 { get; init; }
    /// <summary>Text → image recall@1 over only the queries worded by the held-out templates.</summary>
    [JsonPropertyName("text_to_image_recall_at_1_heldout_templates")] public double TextToImageR1HeldOut { get; init; }
    [JsonPropertyName("retrieval_pool")] public int RetrievalPool { get; init; }
    [JsonPropertyName("retrieval_pools")] public int RetrievalPools { get; init; }
    [JsonPropertyName("logit_scale")] public double LogitScale { get; init; }
}

/// <summary>CLIP's evaluations on Fashion-MNIST's test split: zero-shot classification by caption prompts, and image ↔
/// text retrieval between test images and their held-out test captions. Retrieval runs in pools of
/// <c>pool</c> consecutive test pairs (1,000 by default, so the 10,000 test images make 10 pools; recalls are averaged
/// over every query of every pool). Captions are generated from a few attributes, so many pairs share the very same
/// caption text: a retrieved caption counts as correct when its text equals the query image's caption, and a retrieved
/// image when its caption equals the query caption — the rank is 1 + the number of wrong candidates scored strictly
/// above the best correct one.</summary>
public static class ClipEvaluation
{
    /// <summary>The class prompts of the zero-shot test (none of them a training template as such).</summary>
    public static readonly IReadOnlyList<string> ZeroShotPrompts =
        ["a photo of {a} {c}", "{a} {c}", "a picture of {a} {c}", "an image of {a} {c}", "a photo of the {c}"];

    public static ClipEvaluationResult Evaluate(ClipModel model, Tokenizer tokenizer, ImageSet images, CaptionSet captions,
        int pool = 1000, int batchSize = 250, IProgress<double>? progress = null)
    {
        if (captions.Entries.Count != images.Count) throw new ArgumentException($"clip eval: {captions.Entries.Count} captions for {images.Count} images");
        if (pool < 5 || pool > images.Count) throw new ArgumentException($"clip eval: --pool {pool} must be in 5..{images.Count}");
        int D = model.Config.ProjectionDim, N = images.Count;
        var imageEmb = ImageEmbeddings(model, images, batchSize, progress);                               // (N,D)
        var textEmb = TextEmbeddings(model, tokenizer, captions.Entries.Select(e => e.Caption).ToList(), batchSize);   // (N,D)

        // Zero-shot: class embeddings from averaged prompts.
        var prompts = new List<string>();
        for (int c = 0; c < CaptionSet.ClassWords.Count; c++)
            foreach (var p in ZeroShotPrompts) prompts.Add(CaptionSet.Prompt(p, c));
        double zeroShot = ZeroShot(imageEmb, images.Labels, ClassEmbeddings(TextEmbeddings(model, tokenizer, prompts, batchSize), ZeroShotPrompts.Count, D), D);
        var all = new List<string>();
        var values = AllAttributeValues();
        for (int c = 0; c < CaptionSet.ClassWords.Count; c++)
            for (int t = 0; t < CaptionSet.Templates.Count; t++)
                foreach (var a in values) all.Add(CaptionSet.Render(t, c, a));
        double zeroShotAll = ZeroShot(imageEmb, images.Labels, ClassEmbeddings(TextEmbeddings(model, tokenizer, all, batchSize), CaptionSet.Templates.Count * values.Count, D), D);

        // Retrieval in pools.
        int pools = N / pool;
        long i2t1 = 0, i2t5 = 0, t2i1 = 0, t2i5 = 0, heldHits = 0, heldCount = 0;
        var sims = new float[pool * pool];
        for (int k = 0; k < pools; k++)
        {
            int start = k * pool;
            // sims[i, j] = image (start+i) · text (start+j)
            for (int i = 0; i < pool; i++)
                for (int j = 0; j < pool; j++)
                    sims[i * pool + j] = Dot(imageEmb, textEmb, start + i, start + j, D);
            for (int q = 0; q < pool; q++)
            {
                string own = captions.Entries[start + q].Caption;
                int r1 = RankOfFirstCorrect(sims, pool, q, byRow: true, j => captions.Entries[start + j].Caption == own);
                if (r1 <= 1) i2t1++;
                if (r1 <= 5) i2t5++;
                int r2 = RankOfFirstCorrect(sims, pool, q, byRow: false, i => captions.Entries[start + i].Caption == own);
                if (r2 <= 1) t2i1++;
                if (r2 <= 5) t2i5++;
                if (captions.Entries[start + q].Template >= CaptionSet.TrainingTemplates) { heldCount++; if (r2 <= 1) heldHits++; }
            }
        }
        double queries = (double)pools * pool;
        return new ClipEvaluationResult
        {
            ZeroShotAccuracy = zeroShot, ZeroShotAttributeEnsemble = zeroShotAll, TestImages = N,
            ImageToTextR1 = i2t1 / queries, ImageToTextR5 = i2t5 / queries, TextToImageR1 = t2i1 / queries, TextToImageR5 = t2i5 / queries,
            TextToImageR1HeldOut = heldCount == 0 ? double.NaN : heldHits / (double)heldCount,
            RetrievalPool = pool, RetrievalPools = pools, LogitScale = Math.Exp(Math.Min(model.LogitScale.AsSpan()[0], Math.Log(100))),
        };
    }

    /// <summary>Every combination of attribute values (3 × 3 × 3 × 2 = 54).</summary>
    public static List<ImageAttributes> AllAttributeValues() =>
        (from b in Enum.GetValues<Brightness>() from s in Enum.GetValues<ObjectSize>()
         from h in Enum.GetValues<BoxShape>() from t in Enum.GetValues<Texture>() select new ImageAttributes(b, s, h, t)).ToList();

    // 1-based rank of the first correct candidate for query q: the rows (byRow: image q against texts) or the columns
    // (text q against images) of the pool's similarity matrix.
    static int RankOfFirstCorrect(float[] sims, int pool, int q, bool byRow, Func<int, bool> correct)
    {
        float best = float.NegativeInfinity;
        for (int c = 0; c < pool; c++)
            if (correct(c)) best = MathF.Max(best, byRow ? sims[q * pool + c] : sims[c * pool + q]);
        int above = 0;
        for (int c = 0; c < pool; c++)
            if (!correct(c) && (byRow ? sims[q * pool + c] : sims[c * pool + q]) > best) above++;
        return above + 1;
    }

    static float Dot(float[] a, float[] b, int i, int j, int D)
    {
        float s = 0;
        for (int d = 0; d < D; d++) s += a[i * D + d] * b[j * D + d];
        return s;
    }

    static double ZeroShot(float[] imageEmb, int[] labels, float[] classEmb, int D)
    {
        int N = labels.Length, C = classEmb.Length / D, correct = 0;
        for (int i = 0; i < N; i++)
        {
            int arg = 0; float best = float.NegativeInfinity;
            for (int c = 0; c < C; c++)
            {
                float s = Dot(imageEmb, classEmb, i, c, D);
                if (s > best) { best = s; arg = c; }
            }
            if (arg == labels[i]) correct++;
        }
        return correct / (double)N;
    }

    // (C·per, D) prompt embeddings, a class's consecutive → (C, D) means, renormalised.
    static float[] ClassEmbeddings(float[] prompts, int per, int D)
    {
        int C = prompts.Length / D / per;
        var cls = new float[C * D];
        for (int c = 0; c < C; c++)
        {
            var row = cls.AsSpan(c * D, D);
            for (int k = 0; k < per; k++)
                for (int d = 0; d < D; d++) row[d] += prompts[(c * per + k) * D + d];
            float norm = 0;
            foreach (var v in row) norm += v * v;
            norm = MathF.Sqrt(norm);
            for (int d = 0; d < D; d++) row[d] /= norm;
        }
        return cls;
    }

    /// <summary>Normalised image embeddings of every image, (N·D) row-major.</summary>
    public static float[] ImageEmbeddings(ClipModel model, ImageSet images, int batchSize, IProgress<double>? progress = null)
    {
        int D = model.Config.ProjectionDim, N = images.Count;
        var result = new float[N * D];
        using var tape = new Tape();
        var indices = new int[batchSize];
        for (int start = 0; start < N; start += batchSize)
        {
            int n = Math.Min(batchSize, N - start);
            for (int i = 0; i < n; i++) indices[i] = start + i;
            tape.Reset();
            using (tape.Activate())
            using (Tape.NoGrad())
            {
                using var batch = images.Batch(indices.AsSpan(0, n));
                model.ImageEmbeddings(batch).AsSpan().CopyTo(result.AsSpan(start * D, n * D));
            }
            progress?.Report((start + n) / (double)N);
        }
        return result;
    }

    /// <summary>Normalised text embeddings of <paramref name="texts"/>, (M·D) row-major.</summary>
    public static float[] TextEmbeddings(ClipModel model, Tokenizer tokenizer, IReadOnlyList<string> texts, int batchSize)
    {
        int D = model.Config.ProjectionDim, M = texts.Count, T = model.Config.Text.MaxPositions;
        var encoded = CaptionBatch.Encode(tokenizer, texts, T);
        var result = new float[M * D];
        using var tape = new Tape();
        var ids = new int[batchSize * T];
        var lengths = new int[batchSize];
        for (int start = 0; start < M; start += batchSize)
        {
            int n = Math.Min(batchSize, M - start);
            int t = encoded.Fill(start, n, ids, lengths);
            tape.Reset();
            using (tape.Activate())
            using (Tape.NoGrad())
                model.TextEmbeddings(ids.AsSpan(0, n * t), lengths.AsSpan(0, n), t).AsSpan().CopyTo(result.AsSpan(start * D, n * D));
        }
        return result;
    }
}
