namespace Lathe.Inference;

// TRANSITIONAL: the Embedder (pooled hidden states) lands from the embeddings branch; this is replaced on merge.
public sealed partial class InferenceEngine
{
    float[][] ComputeEmbeddings(IReadOnlyList<int[]> inputs) => throw new NotSupportedException("embeddings are not wired yet");
}
