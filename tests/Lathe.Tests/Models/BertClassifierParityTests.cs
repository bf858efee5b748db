using Lathe.Formats;
using Lathe.Models;
using Lathe.Tensors.Autograd;
using Lathe.Tests.Tuning;
using Lathe.Training;
using Lathe.Training.Objectives;

namespace Lathe.Tests.Models;

/// <summary>The BERT sequence classifier against an independent PyTorch BertForSequenceClassification run in float64
/// (fixtures/make_bert_classifier_fixtures.py): class scores, loss and every parameter's gradient (full fine-tuning),
/// and LoRA on every query/value projection through LanguageModel.Linears (the LoRA matrices' and the classifier's
/// gradients), on right-padded rows of different lengths and three classes.</summary>
public class BertClassifierParityTests
{
    // As BertParityTests: float32 through 2 post-LN layers vs float64 — 2e-5 relative forward, 1e-4 for gradients.
    const float ForwardTolerance = 2e-5f, GradientTolerance = 1e-4f;

    internal static ModelConfig FixtureConfig => BertParityTests.FixtureConfig with { Labels = new ClassLabels(["a", "b", "c"]) };

    static string Fixture(string name) => Path.Combine(AppContext.BaseDirectory, "Models", "fixtures", name);

    static BertClassifier LoadFixtureModel()
    {
        var model = (BertClassifier)LanguageModel.Create(FixtureConfig, seed: 1);
        Checkpoint.LoadWeights(Fixture("bert-cls.model.safetensors"), model);
        return model;
    }

    // Targets as the classification batch source lays them out: the label on the row's tokens, −100 on padding.
    static int[] Targets(int[] labels, int[] lengths, int T)
    {
        var targets = new int[labels.Length * T];
        for (int b = 0; b < labels.Length; b++) SequenceClassificationObjective.WriteRow(targets.AsSpan(b * T, T), lengths[b], labels[b]);
        return targets;
    }

    [Fact]
    public void Classifier_matches_PyTorch_logits_loss_and_every_gradient()
    {
        using var model = LoadFixtureModel();
        using var expected = SafetensorsFile.Open(Fixture("bert-cls.expected.safetensors"));
        int B = int.Parse(expected.Metadata["B"]), T = int.Parse(expected.Metadata["T"]);
        int[] ids = expected.ReadInts("input_ids"), lengths = expected.ReadInts("lengths"), labels = expected.ReadInts("labels");
        Assert.Contains(lengths, l => l < T);   // the padding mask is exercised
        Assert.Equal(3, model.Labels.Count);

        using var tape = new Tape();
        float[] logits;
        float loss;
        using (tape.Activate())
        {
            logits = model.Logits(ids, lengths, B, T).ToArray();
            tape.Reset();
            var l = new SequenceClassificationObjective().Loss(model, new TrainingBatch(ids, Targets(labels, lengths, T), B, T, 0));
            loss = l.Item();
            tape.Backward(l);
        }
        ModelParityTests.AssertClose("logits", expected.ReadFloats("logits"), logits, ForwardTolerance);
        ModelParityTests.AssertClose("loss", expected.ReadFloats("loss"), [loss], ForwardTolerance);
        foreach (var p in model.Parameters)
            ModelParityTests.AssertClose("grad." + p.Name, expected.ReadFloats("grad." + p.Name), p.Value.Grad!.ToArray(), GradientTolerance);
        Assert.Equal(expected.Entries.Count(e => e.Key.StartsWith("grad.", StringComparison.Ordinal)), model.Parameters.Count);
    }

    [Fact]
    public void LoRA_on_query_and_value_through_Linears_matches_PyTorch_gradients_with_the_base_frozen()
    {
        using var model = LoadFixtureModel();
        using var expected = SafetensorsFile.Open(Fixture("bert-cls-lora.expected.safetensors"));
        int B = int.Parse(expected.Metadata["B"]), T = int.Parse(expected.Metadata["T"]);
        int rank = int.Parse(expected.Metadata["lora_rank"]);
        float scale = float.Parse(expected.Metadata["lora_alpha"], System.Globalization.CultureInfo.InvariantCulture) / rank;
        int[] ids = expected.ReadInts("input_ids"), lengths = expected.ReadInts("lengths"), labels = expected.ReadInts("labels");

        var adapters = new List<AdapterSlotTests.LowRank>();
        try
        {
            foreach (var layer in model.Linears.Where(l => l.Name.EndsWith(".query", StringComparison.Ordinal) || l.Name.EndsWith(".value", StringComparison.Ordinal)))
            {
                var a = new AdapterSlotTests.LowRank(layer, rank, scale, adapters.Count, zeroB: false);
                expected.ReadFloats("lora." + a.A.Name).CopyTo(a.A.AsSpan());
                expected.ReadFloats("lora." + a.B.Name).CopyTo(a.B.AsSpan());
                a.A.RequiresGrad = a.B.RequiresGrad = true;
                layer.Adapter = a;
                adapters.Add(a);
            }
            Assert.Equal(2 * FixtureConfig.Layers, adapters.Count);
            var head = model.HeadParameters;
            Assert.Equal(["classifier.weight", "classifier.bias"], head.Select(p => p.Name));
            foreach (var p in model.Parameters) p.Value.RequiresGrad = head.Contains(p);   // PEFT: base frozen, classifier trained

            using var tape = new Tape();
            float[] logits;
            using (tape.Activate())
            {
                logits = model.Logits(ids, lengths, B, T).ToArray();
                tape.Reset();
                var loss = new SequenceClassificationObjective().Loss(model, new TrainingBatch(ids, Targets(labels, lengths, T), B, T, 0));
                ModelParityTests.AssertClose("loss", expected.ReadFloats("loss"), [loss.Item()], ForwardTolerance);
                tape.Backward(loss);
            }
            ModelParityTests.AssertClose("logits", expected.ReadFloats("logits"), logits, ForwardTolerance);
            foreach (var a in adapters)
            {
                ModelParityTests.AssertClose("grad." + a.A.Name, expected.ReadFloats("grad." + a.A.Name), a.A.Grad!.ToArray(), GradientTolerance);
                ModelParityTests.AssertClose("grad." + a.B.Name, expected.ReadFloats("grad." + a.B.Name), a.B.Grad!.ToArray(), GradientTolerance);
            }
            foreach (var p in head)
                ModelParityTests.AssertClose("grad." + p.Name, expected.ReadFloats("grad." + p.Name), p.Value.Grad!.ToArray(), GradientTolerance);
            Assert.All(model.Parameters.Where(p => !head.Contains(p)), p => Assert.Null(p.Value.Grad));   // frozen: no gradient at all
        }
        finally
        {
            foreach (var layer in model.Linears) layer.Adapter = null;
            foreach (var a in adapters) a.Dispose();
        }
    }
}
