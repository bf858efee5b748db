using Lathe.Cli.Verbs;
using Lathe.Tokenizers;

namespace Lathe.Cli.Fuzzing.Targets;

/// <summary>tokenizer.json as `tokenizer encode --tokenizer FILE` opens it (<see cref="TokenizerVerb.Load"/>), then an
/// encoding of text with special tokens and a decoding of the ids. Seeds: a byte-level BPE and a Unigram model with
/// byte fallback, both trained on <see cref="FuzzSeeds.Text"/>.</summary>
internal sealed class TokenizerTarget : FuzzTarget
{
    public override string Name => "tokenizer";
    const string File = "tokenizer.json";

    protected override IReadOnlyList<FuzzSeed> MakeSeeds(string workDir)
    {
        Directory.CreateDirectory(workDir);
        string bpe = Path.Combine(workDir, "bpe.json"), unigram = Path.Combine(workDir, "unigram.json");
        TokenizerJson.Save(FuzzSeeds.Bpe(), bpe);
        string[] specials = ["<unk>", "<s>", "</s>"];
        var model = new UnigramTrainer(320, specials, unknownToken: "<unk>", byteFallback: true, threads: 1).Train([FuzzSeeds.Text, FuzzSeeds.Text]);
        UnigramTokenizerJson.Save(model, specials, unigram);
        return [Seed("bpe", bpe), Seed("unigram", unigram)];
    }

    static FuzzSeed Seed(string name, string path) => new(name, new Dictionary<string, byte[]> { [File] = System.IO.File.ReadAllBytes(path) },
        new Dictionary<string, IReadOnlyList<Mutator>> { [File] = JsonMutators.All });

    public override string UserPath(string caseDir, FuzzSeed seed) => Path.Combine(caseDir, File);

    public override void Run(string caseDir, FuzzSeed seed) => EncodeAndDecode(TokenizerVerb.Load(Path.Combine(caseDir, File)));

    /// <summary>What `tokenizer encode` and `tokenizer decode` do with a loaded tokenizer.</summary>
    internal static void EncodeAndDecode(ITokenizer tokenizer)
    {
        var ids = tokenizer.Encode(FuzzSeeds.Text[..160] + "<s> 東京 <|endoftext|>");
        _ = tokenizer.Decode(ids);
    }
}
