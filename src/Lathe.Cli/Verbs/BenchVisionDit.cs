namespace Lathe.Cli.Verbs;

/// <summary>`lathe bench vision --model dit` (issue #22; built on branch v-dit).</summary>
internal static class BenchVisionDit
{
    public static int Run(int threads, int steps, int warmup, int batch) =>
        throw new UserInputException("bench vision: --model dit is not built yet");
}
