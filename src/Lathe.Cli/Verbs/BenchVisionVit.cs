namespace Lathe.Cli.Verbs;

/// <summary>`lathe bench vision --model vit` (issue #22; built on branch v-vit).</summary>
internal static class BenchVisionVit
{
    public static int Run(int threads, int steps, int warmup, int batch) =>
        throw new UserInputException("bench vision: --model vit is not built yet");
}
