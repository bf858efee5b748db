using System.Text.Json;
using Lathe.Evaluation.Tasks;
using Lathe.Formats;
using Lathe.Inference;
using Lathe.Models;
using Lathe.Tokenizers;

namespace Lathe.Tests.Evaluation.Tasks;

/// <summary>Tasks marked chat_template (lm-evaluation-harness's apply_chat_template with few-shot as multi-turn): the
/// prompt is the template's rendering of user turns, few-shot answers are assistant turns, the reply follows with no
/// delimiter, and generation also stops at the template's end of turn.</summary>
public class ChatTaskTests
{
    static TaskSpec Spec(string extra) => TaskSpec.FromJson(JsonDocument.Parse("""
        { "task": "chat_q", "version": 1, "documents": "q.jsonl", "output_type": "generate_until",
          "doc_to_text": "{{q}}", "doc_to_target": "{{a}}", "target_delimiter": " A:",
        """ + extra + " }").RootElement, "/tmp/chat_q.json");

    static TaskDocument Doc(string q, string a, int line) => new(JsonDocument.Parse(JsonSerializer.Serialize(new { q, a })).RootElement, "q.jsonl", line);

    [Fact]
    public void A_chat_task_renders_its_prompt_and_few_shot_turns_through_the_template()
    {
        var tokenizer = new BpeTrainer(300, ["<|endoftext|>", "<|im_start|>", "<|im_end|>"], minFrequency: 1).Train(["What is the capital? Paris. Rome."]);
        using var model = new LoadedModel(CausalLM.Create(new ModelConfig
        {
            ModelType = "gpt2", VocabSize = 300, MaxPositions = 256, Embd = 16, Layers = 1, Heads = 1, KvHeads = 1, Intermediate = 32,
        }, 3), tokenizer);
        var chatml = ChatTemplate.Named("chatml");
        var spec = Spec("\"chat_template\": true");
        Assert.True(spec.ChatTemplate);
        var prompts = new TaskPrompts(spec, model, chatml);
        TaskDocument[] docs = [Doc("Capital of France?", "Paris.", 1), Doc("Capital of Italy?", "Rome.", 2)];
        string zero = prompts.Context(docs[1], 1, docs, true, new TaskRunOptions());
        Assert.Equal(chatml.Render([new ChatMessage("user", "Capital of Italy?")]), zero);
        string one = prompts.Context(docs[1], 1, docs, true, new TaskRunOptions { Shots = 1 });
        Assert.Equal(chatml.Render([new("user", "Capital of France?"), new("assistant", "Paris."), new("user", "Capital of Italy?")]), one);
        Assert.Equal("", prompts.Delimiter);                 // the template opened the reply; " A:" is not added
        Assert.Contains("<|im_end|>", prompts.Until);
        // The markers are parsed as the special tokens they are.
        Assert.Contains(tokenizer.SpecialTokens.First(t => t.Text == "<|im_start|>").Id, prompts.Encode(zero));

        var plain = new TaskPrompts(Spec("\"chat_template\": false"), model);
        Assert.Equal("Capital of Italy?", plain.Context(docs[1], 1, docs, true, new TaskRunOptions()));
        Assert.Equal(" A:", plain.Delimiter);
    }

    [Fact]
    public void A_chat_template_field_that_is_not_a_boolean_is_refused_by_name()
    {
        var e = Assert.Throws<InvalidDataException>(() => Spec("\"chat_template\": \"yes\""));
        Assert.Contains("field 'chat_template' must be true or false", e.Message);
    }
}
