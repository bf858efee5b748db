using Lathe.Cli.Verbs;

namespace Lathe.Cli.Fuzzing.Targets;

/// <summary>A .tiktoken rank file ("base64-token rank" per line) as `tokenizer encode --tokenizer gpt2.tiktoken`
/// opens it (<see cref="TokenizerVerb.Load"/>: GPT-2's split pattern and &lt;|endoftext|&gt;), then an encoding and a
/// decoding. Seed: the byte sequences of a BPE trained on <see cref="FuzzSeeds.Text"/>, ranked by id (bytes first,
/// then merges in the order they were learned — what tiktoken's rank order means).</summary>
internal sealed class TiktokenTarget : FuzzTarget
{
    public override string Name => "tiktoken";
    const string File = "gpt2.tiktoken";

    protected override IReadOnlyList<FuzzSeed> MakeSeeds(string workDir)
    {
        var tokenizer = FuzzSeeds.Bpe();
        var specials = tokenizer.SpecialTokens.Select(s => s.Id).ToHashSet();
        var lines = new System.Text.StringBuilder();
        int rank = 0;
        for (int id = 0; id < tokenizer.VocabSize; id++)
        {
            if (specials.Contains(id)) continue;
            lines.Append(Convert.ToBase64String(tokenizer.DecodeBytes([id]))).Append(' ').Append(rank++).Append('\n');
        }
        return [new FuzzSeed("bpe-ranks", new Dictionary<string, byte[]> { [File] = System.Text.Encoding.ASCII.GetBytes(lines.ToString()) },
            new Dictionary<string, IReadOnlyList<Mutator>> { [File] = [.. LineMutators.All, LineMutators.TiktokenRank] })];
    }

    public override string UserPath(string caseDir, FuzzSeed seed) => Path.Combine(caseDir, File);

    public override void Run(string caseDir, FuzzSeed seed) => TokenizerTarget.EncodeAndDecode(TokenizerVerb.Load(Path.Combine(caseDir, File)));
}
