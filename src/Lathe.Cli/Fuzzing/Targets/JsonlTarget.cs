using Lathe.Alignment;
using Lathe.Data;

namespace Lathe.Cli.Fuzzing.Targets;

/// <summary>A JSON Lines data file read whole by the library call its verb makes: chat conversations
/// (<see cref="ChatJsonl.Read"/>, `finetune --data`) or preference pairs (<see cref="PreferencePairs.Load"/>,
/// `align dpo|reward --data`). Seeds: a few lines of each shape the reader accepts.</summary>
internal sealed class JsonlTarget(string name, string[] lines, Action<string> read) : FuzzTarget
{
    public override string Name => name;
    const string File = "data.jsonl";

    public static JsonlTarget Chat() => new("chat",
    [
        """{"messages":[{"role":"system","content":"You answer in one word."},{"role":"user","content":"Capital of France?"},{"role":"assistant","content":"Paris"}]}""",
        """{"messages":[{"role":"user","content":"Add 2 and 3."},{"role":"assistant","content":"5"},{"role":"user","content":"And 4?"},{"role":"assistant","content":"9"}]}""",
        """{"prompt":"Name a sea bird.","completion":"Gull — or a petrel, café-side."}""",
    ], path => _ = ChatJsonl.Read(path));

    public static JsonlTarget Preferences() => new("preferences",
    [
        """{"prompt":"What is the capital of France?","chosen":"Paris.","rejected":"Lyon.","kind":"fact"}""",
        """{"prompt":[{"role":"system","content":"Be brief."},{"role":"user","content":"Add 2 and 3."}],"chosen":"5","rejected":"6"}""",
        """{"prompt":"Reply in JSON.","chosen":[{"role":"user","content":"Reply in JSON."},{"role":"assistant","content":"{\"ok\":true}"}],"rejected":"ok"}""",
    ], path => _ = PreferencePairs.Load(path));

    protected override IReadOnlyList<FuzzSeed> MakeSeeds(string workDir) =>
    [
        new FuzzSeed("lines", new Dictionary<string, byte[]> { [File] = System.Text.Encoding.UTF8.GetBytes(string.Join('\n', lines) + "\n") },
            new Dictionary<string, IReadOnlyList<Mutator>> { [File] = LineMutators.Jsonl }),
    ];

    public override string UserPath(string caseDir, FuzzSeed seed) => Path.Combine(caseDir, File);

    public override void Run(string caseDir, FuzzSeed seed) => read(Path.Combine(caseDir, File));
}
