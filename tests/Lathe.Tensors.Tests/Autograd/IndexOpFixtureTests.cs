using Lathe.Formats;
using Lathe.Tensors;
using Lathe.Tensors.Autograd;

namespace Lathe.Tensors.Tests.Autograd;

/// <summary>GatherRows, ScatterAddRows and TopK against PyTorch's index_select, index_add and topk
/// (Fixtures/make_index_fixtures.py, float64 references from float32 inputs).</summary>
public class IndexOpFixtureTests
{
    // Gathers copy exactly; scatter-adds sum a few weighted rows and dot products of ≤ 129 terms: 1e-5 relative.
    const float Tolerance = 1e-5f;

    static readonly SafetensorsFile Fixtures = SafetensorsFile.Open(Path.Combine(AppContext.BaseDirectory, "Fixtures", "index.safetensors"));

    static Tensor Load(string name)
    {
        var e = Fixtures.Get(name);
        var t = Tensor.FromArray(Fixtures.ReadFloats(name), e.Shape.Select(d => (int)d).ToArray());
        t.RequiresGrad = true;
        return t;
    }

    static void Close(string what, float[] expected, float[] actual)
    {
        Assert.Equal(expected.Length, actual.Length);
        for (int i = 0; i < expected.Length; i++)
            Assert.True(Math.Abs(expected[i] - actual[i]) <= Tolerance * (1 + Math.Abs(expected[i])), $"{what}[{i}]: {actual[i]} vs PyTorch {expected[i]}");
    }

    static void Run(string name, Tensor[] inputs, string[] names, Func<Tensor> op)
    {
        using var tape = new Tape();
        using (tape.Activate())
        {
            var y = op();
            Close(name + ".y", Fixtures.ReadFloats(name + ".y"), y.ToArray());
            using var up = Tensor.FromArray(Fixtures.ReadFloats(name + ".upstream"), y.Shape);
            tape.Backward(y, up);
        }
        for (int i = 0; i < inputs.Length; i++)
            Close($"{name}.grad_{names[i]}", Fixtures.ReadFloats($"{name}.grad_{names[i]}"), inputs[i].Grad!.ToArray());
        foreach (var x in inputs) x.Dispose();
    }

    [Theory]
    [InlineData("5x3")]
    [InlineData("17x129")]
    public void GatherRows_matches_index_select(string shape)
    {
        string name = "gather_" + shape;
        var x = Load(name + ".x");
        int[] rows = Fixtures.ReadInts(name + ".rows");
        Run(name, [x], ["x"], () => Ops.GatherRows(x, rows));
    }

    [Theory]
    [InlineData("5x3")]
    [InlineData("17x129")]
    public void ScatterAddRows_matches_index_add(string shape)
    {
        string name = "scatter_" + shape;
        var src = Load(name + ".src");
        var w = Load(name + ".w");
        int[] rows = Fixtures.ReadInts(name + ".rows");
        int n = int.Parse(shape.Split('x')[0]);
        Run(name, [src, w], ["src", "w"], () => Ops.ScatterAddRows(src, rows, n, w));
    }

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(8)]
    public void TopK_matches_torch_topk(int k)
    {
        using var x = Load("topk.x");
        var got = new int[x.Dim(0) * k];
        Ops.TopK(x, k, got);
        Assert.Equal(Fixtures.ReadInts($"topk.k{k}"), got);
    }
}
