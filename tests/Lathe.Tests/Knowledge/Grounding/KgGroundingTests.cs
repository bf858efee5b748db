using Lathe.Inference;
using Lathe.Knowledge;
using Lathe.Knowledge.Grounding;
using Lathe.Tests.Inference.Constraints;

namespace Lathe.Tests.Knowledge.Grounding;

/// <summary>Grounding plans: abstain outright on an entity the graph does not know or a fact it does not hold;
/// otherwise the retrieval prompt, the answer constraint, or both, as the mode asks.</summary>
public class KgGroundingTests
{
    static readonly InMemoryGraph Graph = GroundingFixtures.Graph();
    static readonly KgGrounding Grounding = new(Graph, KgAnswerConstraintTests.Bpe, [KgAnswerConstraintTests.Bpe.EndOfTextId]);

    [Fact]
    public void An_entity_outside_the_graph_or_a_missing_fact_abstains_now()
    {
        var atlantis = Grounding.Plan("What is the capital of Atlantis?", GroundingMode.Both);
        Assert.Equal((true, "'Atlantis' is not an entity of the graph", (Func<ILogitsProcessor>?)null), (atlantis.AbstainNow, atlantis.Reason, atlantis.Constraint));
        var ukraine = Grounding.Plan("What is the capital of Ukraine?", GroundingMode.Retrieve);
        Assert.Equal((true, "the graph has no capital for Ukraine"), (ukraine.AbstainNow, ukraine.Reason));
        var spain = Grounding.Plan("When did Spain become independent?", GroundingMode.Constrain);
        Assert.Equal((true, "the graph has no independence for Spain"), (spain.AbstainNow, spain.Reason));
        Assert.True(Grounding.Plan("Hello there", GroundingMode.Both).AbstainNow);
    }

    [Fact]
    public void A_subject_found_only_by_spelling_abstains_unless_allowed()
    {
        var plan = Grounding.Plan("What is the capital of Franse?", GroundingMode.Both);
        Assert.Equal((true, "'Franse' is not an entity of the graph (nearest by spelling: France)"), (plan.AbstainNow, plan.Reason));
        var lenient = new KgGrounding(Graph, KgAnswerConstraintTests.Bpe, [KgAnswerConstraintTests.Bpe.EndOfTextId], linker: Grounding.Linker) { AnswerFuzzySubjects = true };
        var answered = lenient.Plan("What is the capital of Franse?", GroundingMode.Both);
        Assert.False(answered.AbstainNow);
        Assert.StartsWith("Facts:\n- The capital of France is Paris.", answered.Prompt);
    }

    [Fact]
    public void Each_mode_gives_its_prompt_and_constraint()
    {
        const string q = "Which city is the capital of France?";
        var retrieve = Grounding.Plan(q, GroundingMode.Retrieve);
        Assert.False(retrieve.AbstainNow);
        Assert.StartsWith("Facts:\n- The capital of France is Paris.\n", retrieve.Prompt);
        Assert.EndsWith("Question: " + q + "\nAnswer:", retrieve.Prompt);
        Assert.Null(retrieve.Constraint);

        var constrain = Grounding.Plan(q, GroundingMode.Constrain);
        Assert.Equal(GroundedPrompt.Format(q), constrain.Prompt);
        Assert.NotNull(constrain.Constraint);
        int eot = KgAnswerConstraintTests.Bpe.EndOfTextId;
        for (ulong seed = 0; seed < 20; seed++)
        {
            var text = ConstraintTestSupport.Utf8(ConstraintTestSupport.Sample(KgAnswerConstraintTests.Bpe, constrain.Constraint!(), seed, eot, maxSteps: 32).Bytes);
            Assert.Equal("Paris", text.Trim());
        }

        var both = Grounding.Plan(q, GroundingMode.Both);
        Assert.Equal(retrieve.Prompt, both.Prompt);
        Assert.NotNull(both.Constraint);
        Assert.Equal(("country/FRA", "capital"), (both.Reading.Entity!.Id, both.Reading.Relation!.Id));
    }

    [Fact]
    public void An_ambiguous_subject_is_answered_among_every_candidates_objects_or_abstains()
    {
        var plan = Grounding.Plan("What is the capital of Georgia?", GroundingMode.Constrain);
        Assert.False(plan.AbstainNow);
        Assert.StartsWith("ambiguous: ", plan.Reason);
        int eot = KgAnswerConstraintTests.Bpe.EndOfTextId;
        var outputs = Enumerable.Range(0, 60)
            .Select(s => ConstraintTestSupport.Utf8(ConstraintTestSupport.Sample(KgAnswerConstraintTests.Bpe, plan.Constraint!(), (ulong)s, eot, maxSteps: 32).Bytes).Trim())
            .ToHashSet();
        Assert.Equal(["Atlanta", "I don't know.", "Tbilisi"], outputs.Order());
    }

    [Fact]
    public void The_facts_fit_the_room_a_context_leaves()
    {
        const string q = "Which countries border France?";
        int bare = Grounding.CountTokens(GroundedPrompt.Format(q));
        int previous = -1;
        foreach (int context in new[] { bare + 20, bare + 40, bare + 60, bare + 90, bare + 200, 4096 })
        {
            int room = Grounding.FactRoom(q, context, generateTokens: 10);
            Assert.Equal(Math.Max(0, context - 10 - bare - Grounding.CountTokens("Facts:\n") - 4), room);
            var plan = Grounding.Plan(q, GroundingMode.Retrieve, room);
            Assert.True(Grounding.CountTokens(plan.Prompt) <= context - 10, $"context {context}: {Grounding.CountTokens(plan.Prompt)} tokens");
            Assert.True(plan.Facts.Count >= previous);   // more room, never fewer facts
            previous = plan.Facts.Count;
        }
        Assert.Equal(6, previous);   // all of France's facts once the room is large
        Assert.Equal(0, Grounding.FactRoom(q, bare, 10));
        Assert.Equal(GroundedPrompt.Format(q), Grounding.Plan(q, GroundingMode.Retrieve, 0).Prompt);
    }

    [Fact]
    public void Numbers_are_constrained_to_their_written_forms()
    {
        var plan = Grounding.Plan("What is the area of France?", GroundingMode.Constrain);
        int eot = KgAnswerConstraintTests.Bpe.EndOfTextId;
        var outputs = Enumerable.Range(0, 60)
            .Select(s => ConstraintTestSupport.Utf8(ConstraintTestSupport.Sample(KgAnswerConstraintTests.Bpe, plan.Constraint!(), (ulong)s, eot, maxSteps: 32).Bytes).Trim())
            .ToHashSet();
        Assert.Equal(["551,695", "551695"], outputs.Order());
    }
}
