using Lathe.Knowledge;
using Lathe.Knowledge.Experiment;
using Lathe.Knowledge.Experiment.Arms;
using Lathe.Knowledge.Grounding;
using Lathe.Knowledge.Store;
using Lathe.Tests.Data;

namespace Lathe.Tests.Knowledge.Experiment;

/// <summary>The question set the experiment draws from the shipped graph (data/kg) through the SQLite store: every
/// relation the driver asks about yields questions, the split is by fact, the held-out unanswerable names link to
/// nothing (the checked and constrained arms can abstain on them), and the retrieval prompt of a held-out answerable
/// question holds the asked fact first.</summary>
public class ShippedQuestionSetTests : IDisposable
{
    // The driver's relations (scripts/kg/experiment.sh): short answers about countries, cities and elements.
    internal static readonly string[] Relations =
        ["capital", "continent", "region", "subregion", "currency", "official_language", "demonym", "symbol", "atomic_number", "year_discovered", "group_block", "standard_state"];

    readonly string _dir = Path.Combine(Path.GetTempPath(), "lathe-kgq-" + Guid.NewGuid().ToString("N"));

    public void Dispose() { if (Directory.Exists(_dir)) Directory.Delete(_dir, true); }

    KnowledgeStore Store()
    {
        Directory.CreateDirectory(_dir);
        var store = KnowledgeStore.Create(Path.Combine(_dir, "graph.db"));
        store.Import(Path.Combine(Peers.RepoRoot, "data", "kg", "graph.jsonl.gz"));
        return store;
    }

    [Fact]
    public void The_shipped_graph_gives_questions_for_every_experiment_relation_split_by_fact()
    {
        using var store = Store();
        var unknown = UnknownEntityFile.Read(Path.Combine(Peers.RepoRoot, "data", "kg", "unknown-entities.jsonl.gz"));
        var set = QuestionSet.Build(store, unknown, new QuestionSetOptions { Relations = Relations, PerRelation = 20, Seed = 1 });
        Assert.Equal(Relations, set.Relations);
        foreach (string r in Relations)
        {
            Assert.Contains(set.HeldOut, q => q.Relation == r && q.Answerable);
            Assert.Contains(set.Train, q => q.Relation == r && q.Answerable);
        }
        Assert.Empty(set.Train.Select(q => (q.Subject, q.Relation)).Intersect(set.HeldOut.Select(q => (q.Subject, q.Relation))));

        var grounding = new KgQuestionGrounding(store, null, [], ExperimentPrompts.DefaultFactBudget);
        var linker = new EntityLinker(store);
        // An invented name links to nothing — unless it is within the linker's fuzzy distance of a real name ("Kaland"
        // is one edit from "Åland"), when it is read as that entity. Either way claim checking lets no answer through
        // that the graph does not back: the unlinked are unknown entities, the fuzzily linked are checked against
        // the real entity's values (which a nonsense answer contradicts).
        int fuzzy = 0;
        foreach (var q in set.HeldOut.Where(q => !q.Answerable))
        {
            Assert.Empty(store.EntitiesNamed(q.Subject));
            var mention = linker.LinkSpan(q.Subject);
            var check = grounding.Check(q.Question, "Zzyzx Qwv");
            if (mention is null) Assert.Equal(AnswerCheck.Unbacked, check);
            else
            {
                fuzzy++;
                Assert.Equal(LinkKind.Fuzzy, mention.Kind);
                var r = new QuestionReader(store, linker).Read(q.Question);
                Assert.True(check != AnswerCheck.Keep, $"{q.Question}: {r.Subject?.Text} [{string.Join("|", r.Subject?.Candidates.Select(c => c.Id) ?? [])}] {r.Entity?.Id} {r.Relation?.Id} {r.Problem}");
            }
        }
        Assert.InRange(fuzzy, 0, set.HeldOut.Count(q => !q.Answerable) / 4);
        // A held-out answerable question's retrieval prompt starts with the asked fact, whose object is an answer.
        var capital = set.HeldOut.First(q => q.Relation == "capital" && q.Answerable && q.Phrasing == 0);
        string prompt = grounding.RetrievalPrompt(capital.Question);
        string firstFact = prompt.Split('\n')[1];
        Assert.StartsWith($"- The capital of {store.FindEntity(capital.Subject)!.Name} is ", firstFact);
        Assert.Contains(capital.Answers[0], firstFact);
        Assert.EndsWith($"Question: {capital.Question}\nAnswer:", prompt);
        Assert.True(ExperimentPrompts.ApproxTokens(prompt) <= ExperimentPrompts.DefaultFactBudget + ExperimentPrompts.ApproxTokens(capital.Question) + 8);
    }
}
