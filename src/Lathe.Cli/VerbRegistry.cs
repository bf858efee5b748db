using System.CommandLine;
using Lathe.Cli.Verbs;

namespace Lathe.Cli;

/// <summary>Every top-level verb, in the order of the pipeline (DESIGN.md).</summary>
internal static class VerbRegistry
{
    public static IEnumerable<Command> All()
    {
        yield return DemoVerb.Create();
        yield return DataVerb.Create();
        yield return TokenizerVerb.Create();
        yield return PretrainVerb.Create();
        yield return FinetuneVerb.Create();
        yield return LoraVerb.Create();
        yield return AlignVerb.Create();
        yield return EvalVerb.Create();
        yield return GenerateVerb.Create();
        yield return ChatVerb.Create();
        yield return ServeVerb.Create();
        yield return QuantizeVerb.Create();
        yield return PruneVerb.Create();
        yield return DistillVerb.Create();
        yield return KgVerb.Create();
        yield return VisionVerb.Create();
        yield return BenchVerb.Create();
    }
}
