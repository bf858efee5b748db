namespace Lathe.Tensors;

// Elementwise unary functions with their derivatives. Each is one pass over contiguous memory; the
// backward reads the saved input (x) or output (y), whichever gives the derivative most cheaply.
public static unsafe partial class Ops
{
    const int UExp = 0, ULog = 1, UTanh = 2, USqrt = 3, UGeluTanh = 4, UGeluErf = 5, USilu = 6;

    public static Tensor Exp(Tensor x) => Unary("Exp", x, UExp);
    public static Tensor Log(Tensor x) => Unary("Log", x, ULog);
    public static Tensor Tanh(Tensor x) => Unary("Tanh", x, UTanh);
    public static Tensor Sqrt(Tensor x) => Unary("Sqrt", x, USqrt);
    /// <summary>GELU; <paramref name="tanhApproximation"/> selects GPT-2's tanh form over the exact erf form.</summary>
    public static Tensor Gelu(Tensor x, bool tanhApproximation = true) => Unary("Gelu", x, tanhApproximation ? UGeluTanh : UGeluErf);
    /// <summary>SiLU (swish): x·σ(x).</summary>
    public static Tensor Silu(Tensor x) => Unary("Silu", x, USilu);

    static Tensor Unary(string op, Tensor x, int kind)
    {
        var src = Contiguous(x);
        var y = Autograd.Tape.NewResult(x.Shape);
        Kernels.UnaryKernels.Forward(kind, src.Data, y.Data, y.Length);
        if (Record(y, &UnaryBackward, src)) y.I0 = kind;
        return y;
    }

    static void UnaryBackward(Tensor y)
    {
        var dx = GradOf(y.In0);
        if (dx is null) return;
        Kernels.UnaryKernels.Backward(y.I0, y.In0!.Data, y.Data, y.Grad!.Data, dx.Data, y.Length);
    }

    /// <summary>SwiGLU: silu(gate) ⊙ up, the gated MLP of Llama.</summary>
    public static Tensor SwiGlu(Tensor gate, Tensor up)
    {
        RequireSameShape("SwiGlu", gate, up);
        var g = Contiguous(gate);
        var u = Contiguous(up);
        var y = Autograd.Tape.NewResult(gate.Shape);
        Kernels.UnaryKernels.SwiGluForward(g.Data, u.Data, y.Data, y.Length);
        Record(y, &SwiGluBackward, g, u);
        return y;
    }

    static void SwiGluBackward(Tensor y)
    {
        var dg = GradOf(y.In0);
        var du = GradOf(y.In1);
        Kernels.UnaryKernels.SwiGluBackward(y.In0!.Data, y.In1!.Data, y.Grad!.Data,
            dg is null ? null : dg.Data, du is null ? null : du.Data, y.Length);
    }
}
