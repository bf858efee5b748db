using System.CommandLine;
using System.Text.Json;
using Lathe.Alignment;
using Lathe.IO;

namespace Lathe.Cli.Verbs;

/// <summary>`lathe align judge-data`: chat fine-tuning data that teaches a model to judge pairs against principles as
/// `align rlaif --judge-template` asks it — each labelled pair in both orders, the better response's letter as the
/// reply. Fine-tune a judge on it with `lathe finetune`, then let it label the policy's own samples.</summary>
internal static class AlignJudgeDataVerb
{
    public static Command Create()
    {
        var data = new Option<string>("--data") { Description = "Labelled preference pairs (JSONL of {\"prompt\",\"chosen\",\"rejected\"}).", Required = true };
        var principles = new Option<string?>("--principles") { Description = "The principles the judge applies (default: data/alignment/principles.md's)." };
        var output = new Option<string>("--out") { Description = "Chat JSONL to write (.gz: compressed).", Required = true };
        var command = new Command("judge-data", "Chat fine-tuning data for an AI judge: labelled pairs as judge prompts in both orders, the better letter as the reply.")
        {
            data, principles, output,
        };
        command.SetAction(r =>
        {
            var pairs = PreferencePairs.Load(r.GetValue(data)!);
            string text = AlignRlaifVerb.Principles(r.GetValue(principles));
            var lines = AiFeedback.JudgeConversations(text, pairs)
                .Select(c => JsonSerializer.Serialize(new { messages = c.Messages.Select(m => new { role = m.Role, content = m.Content }) }))
                .ToList();
            string path = r.GetValue(output)!;
            JsonlFile.Write(path, lines);
            int n = lines.Count;
            Console.Error.WriteLine($"judge-data: {pairs.Count} pairs → {n} judge conversations in {path}");
            BenchSupport.PrintJson(("pairs", pairs.Count), ("conversations", n));
            return 0;
        });
        return command;
    }
}
