using Lathe.Formats;
using Lathe.Models;
using Lathe.Tensors;
using Lathe.Tensors.Autograd;
using Lathe.Vision.Layers;
using Lathe.Vision.Training;
using static Lathe.Tests.Vision.CaptionerTestSupport;

namespace Lathe.Tests.Vision;

/// <summary>The language-model side of the captioner: vision tokens → MLP adapter → [image ; caption] through a gpt2 or
/// llama decoder's embeddings-in forward, loss on the caption tokens only — against PyTorch (loss and the gradient of
/// every decoder and adapter tensor and of the vision tokens) and finite differences.</summary>
public class CaptionObjectiveTests
{
    static ModelConfig Decoder(string arch) => arch == "gpt2"
        ? new() { ModelType = "gpt2", VocabSize = 40, MaxPositions = 16, Embd = 16, Layers = 2, Heads = 4, KvHeads = 4, Intermediate = 64 }
        : new() { ModelType = "llama", VocabSize = 40, MaxPositions = 16, Embd = 16, Layers = 2, Heads = 4, KvHeads = 2, Intermediate = 24, NormEps = 1e-5f, TieEmbeddings = false };

    [Theory]
    [InlineData("gpt2")]
    [InlineData("llama")]
    public void Matches_PyTorch_loss_and_every_gradient(string arch)
    {
        using var file = SafetensorsFile.Open(Fixture($"prefix_{arch}.safetensors"));
        using var lm = CausalLM.Create(Decoder(arch), 1);
        var pb = new ParameterBuilder(2);
        var adapter = new VisionAdapter(pb, "multi_modal_projector", new VisionAdapterConfig { Kind = "mlp", InputDim = 12, OutputDim = 16 });
        SetParameters(file, lm.Parameters, "lm.");
        SetParameters(file, pb.Parameters);
        using var x = Load(file, "x");
        x.RequiresGrad = true;
        var batch = CaptionTokenRows.From(file.ReadInts("ids"), file.ReadInts("lengths"));
        var objective = new CaptionObjective();
        using var tape = new Tape();
        using (tape.Activate())
        {
            var loss = objective.Loss(lm, adapter.Forward(x), batch);
            Close(file.ReadFloats("loss"), [loss.Item()], 2e-5f, "loss");
            tape.Backward(loss);
        }
        Close(file.ReadFloats("grad.x"), x.Grad!.ToArray(), 1e-4f, "grad.x");
        foreach (var p in lm.Parameters) Close(Gradient(file, p, "lm."), p.Value.Grad!.ToArray(), 1e-4f, "grad.lm." + p.Name);
        foreach (var p in pb.Parameters) Close(Gradient(file, p), p.Value.Grad!.ToArray(), 1e-4f, "grad." + p.Name);
        foreach (var p in pb.Parameters) p.Value.Dispose();
    }

    [Fact]
    public void Gradients_match_finite_differences_and_padding_is_ignored()
    {
        using var lm = CausalLM.Create(Decoder("gpt2"), 3);
        var pb = new ParameterBuilder(4);
        var adapter = new VisionAdapter(pb, "a", new VisionAdapterConfig { Kind = "linear", InputDim = 6, OutputDim = 16 });
        using var x = Tensor.Zeros(2, 3, 6);
        new Philox(9).FillNormal(x.AsSpan(), 0, 1);
        int[] ids = [0, 5, 7, 0, 0, 0, 9, 0, 3, 3];   // row 1 ends after 3 tokens; the rest is padding
        var objective = new CaptionObjective();
        var batch = CaptionTokenRows.From(ids, [4, 3]);
        var inputs = new List<(string, Tensor)> { ("x", x) };
        inputs.AddRange(pb.Parameters.Select(p => (p.Name, p.Value)));
        inputs.Add(("wte", lm.Parameters[0].Value));
        FiniteDifferences(() => objective.Loss(lm, adapter.Forward(x), batch), inputs, samples: 4);

        // Padding predicts nothing: changing it leaves the loss as it was.
        float Loss(int[] rows)
        {
            using var tape = new Tape();
            using (tape.Activate()) using (Tape.NoGrad()) return objective.Loss(lm, adapter.Forward(x), CaptionTokenRows.From(rows, [4, 3])).Item();
        }
        float a = Loss(ids);
        Assert.Equal(a, Loss([0, 5, 7, 0, 0, 0, 9, 0, 11, 12]));
        Assert.NotEqual(a, Loss([0, 5, 8, 0, 0, 0, 9, 0, 3, 3]));
        foreach (var p in pb.Parameters) p.Value.Dispose();
    }

    [Fact]
    public void Batches_wrap_captions_in_end_of_text_and_pad_them()
    {
        var captions = new List<int[]> { CaptionTokenRows.Wrap([4, 5, 6], 1), CaptionTokenRows.Wrap([7], 1) };
        Assert.Equal([1, 4, 5, 6, 1], captions[0]);
        var b = new CaptionTokenRows().Fill(captions, [1, 0], pad: 1);
        Assert.Equal(2, b.Rows);
        Assert.Equal(5, b.Length);
        Assert.Equal([1, 7, 1, 1, 1, 1, 4, 5, 6, 1], b.Ids.AsSpan(0, 10).ToArray());
        Assert.Equal([3, 5], b.Lengths.AsSpan(0, 2).ToArray());
    }
}
