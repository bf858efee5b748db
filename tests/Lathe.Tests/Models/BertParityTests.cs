using Lathe.Training.Objectives;
using Lathe.Formats;
using Lathe.Models;
using Lathe.Tensors.Autograd;

namespace Lathe.Tests.Models;

/// <summary>BERT parity in the manner of llm.c's test_gpt2.c: MLM logits at every position, NSP logits, both losses
/// and the gradient of every parameter against an independent PyTorch BERT run in float64
/// (fixtures/make_bert_fixtures.py), on explicit inputs with [MASK]ed, replaced and kept predictions, two segments
/// and one right-padded row.</summary>
public class BertParityTests
{
    // Float32 through 2 post-LN layers vs a float64 reference: as for GPT-2 (ModelParityTests), a few ulps per op
    // compounded stay below 2e-5 relative forward; gradients also pass the softmax/norm Jacobians: 1e-4.
    const float ForwardTolerance = 2e-5f, GradientTolerance = 1e-4f;

    internal static ModelConfig FixtureConfig => new()
    {
        ModelType = "bert", VocabSize = 97, MaxPositions = 16, Embd = 32, Layers = 2, Heads = 4, KvHeads = 4, Intermediate = 64,
        NormEps = 1e-12f, TypeVocabSize = 2,
    };

    static string Fixture(string name) => Path.Combine(AppContext.BaseDirectory, "Models", "fixtures", name);

    [Fact]
    public void Bert_matches_PyTorch_logits_losses_and_every_gradient()
    {
        using var model = (BertModel)LanguageModel.Create(FixtureConfig, seed: 1);
        Checkpoint.LoadWeights(Fixture("bert.model.safetensors"), model);
        using var expected = SafetensorsFile.Open(Fixture("bert.expected.safetensors"));
        int B = int.Parse(expected.Metadata["B"]), T = int.Parse(expected.Metadata["T"]);
        int[] ids = expected.ReadInts("input_ids"), types = expected.ReadInts("token_type_ids"), lengths = expected.ReadInts("lengths");
        int[] mlmLabels = expected.ReadInts("mlm_labels"), nspLabels = expected.ReadInts("nsp_labels");
        Assert.Contains(lengths, l => l < T);   // the fixture must exercise the padding mask

        using var tape = new Tape();
        float[] mlmLogits, nspLogits;
        float loss;
        using (tape.Activate())
        {
            var hidden = model.Encode(ids, types, lengths, B, T);
            mlmLogits = model.MaskedLmLogits(hidden).ToArray();
            nspLogits = model.NextSentenceLogits(hidden, B, T).ToArray();
            tape.Reset();
            var l = new MaskedLmObjective(model.Config).Loss(model, ids, types, lengths, mlmLabels, nspLabels, B, T);
            loss = l.Item();
            tape.Backward(l);
        }
        ModelParityTests.AssertClose("mlm_logits", expected.ReadFloats("mlm_logits"), mlmLogits, ForwardTolerance);
        ModelParityTests.AssertClose("nsp_logits", expected.ReadFloats("nsp_logits"), nspLogits, ForwardTolerance);
        ModelParityTests.AssertClose("loss", expected.ReadFloats("loss"), [loss], ForwardTolerance);
        int checkedCount = 0;
        foreach (var p in model.Parameters)
        {
            Assert.False(p.StoredTransposed);   // HF nn.Linear layout is the engine's
            ModelParityTests.AssertClose("grad." + p.Name, expected.ReadFloats("grad." + p.Name), p.Value.Grad!.ToArray(), GradientTolerance);
            checkedCount++;
        }
        Assert.Equal(expected.Entries.Count(e => e.Key.StartsWith("grad.", StringComparison.Ordinal)), checkedCount);
    }

    [Fact]
    public void Padded_positions_do_not_change_the_outputs_of_real_ones()
    {
        using var model = (BertModel)LanguageModel.Create(FixtureConfig, seed: 3);
        const int B = 2, T = 8, Length = 5;
        int[] ids = [93, 10, 94, 11, 94, 96, 96, 96, 93, 12, 94, 13, 94, 96, 96, 96];
        int[] types = [0, 0, 0, 1, 1, 0, 0, 0, 0, 0, 0, 1, 1, 0, 0, 0];
        int[] lengths = [Length, Length];
        using var tape = new Tape();
        float[] Hidden(int[] x)
        {
            tape.Reset();
            using (tape.Activate()) using (Tape.NoGrad()) return model.Encode(x, types, lengths, B, T).ToArray();
        }
        float[] a = Hidden(ids);
        int[] other = (int[])ids.Clone();
        for (int b = 0; b < B; b++) for (int t = Length; t < T; t++) other[b * T + t] = 40 + t;   // different padding content
        float[] c = Hidden(other);
        int C = FixtureConfig.Embd;
        for (int b = 0; b < B; b++)
            Assert.Equal(a.AsSpan((b * T) * C, Length * C).ToArray(), c.AsSpan((b * T) * C, Length * C).ToArray());
        Assert.NotEqual(a.AsSpan((0 * T + Length) * C, C).ToArray(), c.AsSpan((0 * T + Length) * C, C).ToArray());
    }

    [Fact]
    public void Checkpoint_round_trips_with_HF_names_and_a_missing_tensor_is_named()
    {
        string dir = CheckpointTests.TempDir();
        var config = FixtureConfig with { Dropout = 0.1f };
        using (var a = LanguageModel.Create(config, seed: 7))
        {
            Checkpoint.SaveModel(dir, a, null);
            using (var f = SafetensorsFile.Open(Path.Combine(dir, "model.safetensors")))
            {
                Assert.Equal(new long[] { 97, 32 }, f.Get("bert.embeddings.word_embeddings.weight").Shape);
                Assert.Equal(new long[] { 32, 32 }, f.Get("bert.encoder.layer.1.attention.self.query.weight").Shape);
                Assert.Equal(new long[] { 64, 32 }, f.Get("bert.encoder.layer.0.intermediate.dense.weight").Shape);
                Assert.Equal(new long[] { 97 }, f.Get("cls.predictions.bias").Shape);
                Assert.Equal(new long[] { 2, 32 }, f.Get("cls.seq_relationship.weight").Shape);
                Assert.False(f.Entries.ContainsKey("cls.predictions.decoder.weight"));   // tied to the word embeddings
            }
            using var b = Checkpoint.LoadAny(dir);
            Assert.IsType<BertModel>(b);
            Assert.Equal(a.Config, b.Config);
            for (int i = 0; i < a.Parameters.Count; i++)
                Assert.Equal(a.Parameters[i].Value.ToArray(), b.Parameters[i].Value.ToArray());
        }
        var e = Assert.Throws<InvalidDataException>(() => Checkpoint.LoadModel(dir));
        Assert.Equal("config: model_type: 'bert' is not a decoder (causal LM); this command needs one", e.Message);

        using var smaller = LanguageModel.Create(FixtureConfig with { Layers = 1 }, seed: 1);
        Checkpoint.SaveWeights(Path.Combine(dir, "model.safetensors"), smaller);
        e = Assert.Throws<InvalidDataException>(() => Checkpoint.LoadAny(dir));
        Assert.Contains("tensor 'bert.encoder.layer.1.attention.self.query.weight' is missing", e.Message);
    }
}
