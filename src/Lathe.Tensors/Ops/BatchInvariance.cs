namespace Lathe.Tensors;

public static partial class Ops
{
    /// <summary>Rows up to which every matrix product gives a row the same bits whatever other rows share it (F32 takes
    /// the few-rows kernel, whose per-element arithmetic does not depend on the row count; the quantized kernels are
    /// row-count independent throughout). A caller that wants a sequence's results not to depend on what it was batched
    /// with — a server's same-seed-same-output, an embedding equal alone and in a list — keeps each forward within it.</summary>
    public const int BatchInvariantRows = Kernels.GemmFewRows.MaxRows;
}
