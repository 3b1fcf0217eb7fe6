using System.Text;

namespace Engine.Nn.Data;

/// <summary>Options of the embedded default corpus (see <see cref="SyntheticCorpus"/>).</summary>
public sealed record SyntheticCorpusOptions
{
    /// <summary>Seed of the generator: the same seed gives the same text on every machine.</summary>
    public ulong Seed { get; init; } = 1;

    /// <summary>Length of the text in characters (UTF-16 code units; the text is ASCII, so also bytes).</summary>
    public int Characters { get; init; } = 1_000_000;
}

/// <summary>What the generator put into a text: counts that show how far back the long-range facts reach.</summary>
/// <param name="Documents">Number of documents (chapters) started.</param>
/// <param name="Entities">Number of named entities introduced.</param>
/// <param name="Recalls">Number of sentences that repeat an entity's fact after its introduction.</param>
/// <param name="RecallDistances">For each recall, the distance in characters back to the previous mention of the same entity.</param>
public sealed record SyntheticCorpusStatistics(int Documents, int Entities, int Recalls, IReadOnlyList<int> RecallDistances);

/// <summary>
/// The embedded default corpus: a deterministic, seeded generator of English-like text with both local structure and
/// long-range dependencies, so that a character model has something to learn at every distance.
/// <list type="bullet">
/// <item>Local structure: a fixed lexicon of invented content words (nouns, verbs, adjectives, adverbs) with Zipf
/// frequencies, real function words, a small probabilistic grammar (clauses, questions, quotes, commas), number
/// agreement between subject and verb, "a"/"an" before vowels, and word-to-word preferences (each noun favours some
/// verbs and adjectives, each verb some objects), which makes the text n-gram-like.</item>
/// <item>Long-range structure: each document (a "Chapter") invents a few named entities with fresh names and binds
/// each to a fact (an item and a home). An entity is introduced once; far later in the same document, recall
/// sentences repeat the fact in either direction (name → item, item → name, name → home, home → name). The name is
/// new to the document, so only attention reaching back to the introduction can predict the recalled words.</item>
/// </list>
/// Only <see cref="Rng"/> and integer arithmetic decide what is written, so the same <see cref="SyntheticCorpusOptions"/>
/// give the same bytes on every machine. The text is ASCII. See docs/corpus.md.
/// </summary>
public static class SyntheticCorpus
{
    /// <summary>Generates the text.</summary>
    public static string Generate(SyntheticCorpusOptions options) => GenerateWithStatistics(options).Text;

    /// <summary>Generates the text and reports how many long-range facts it holds and how far apart they are.</summary>
    /// <exception cref="ArgumentOutOfRangeException">The length is not in [1, 2^28].</exception>
    public static (string Text, SyntheticCorpusStatistics Statistics) GenerateWithStatistics(SyntheticCorpusOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        if (options.Characters < 1 || options.Characters > (1 << 28))
            throw new ArgumentOutOfRangeException(nameof(options), options.Characters, "synthetic corpus: Characters must be in [1, 268435456]");
        var g = new Generator(options.Seed);
        var sb = new StringBuilder(options.Characters + 8192);
        while (sb.Length < options.Characters) g.Document(sb);
        var text = sb.ToString(0, options.Characters);
        // Count only what survived the cut at the requested length.
        var distances = g.Recalls.Where(r => r.End <= options.Characters).Select(r => r.Distance).ToArray();
        var stats = new SyntheticCorpusStatistics(
            g.DocumentStarts.Count(s => s < options.Characters),
            g.Introductions.Count(p => p < options.Characters),
            distances.Length,
            distances);
        return (text, stats);
    }

    private sealed class Generator
    {
        // Syllable parts of invented words. Order matters for determinism; never reorder.
        private static readonly string[] Onsets = ["b", "d", "f", "g", "h", "k", "l", "m", "n", "p", "r", "s", "t", "v", "w", "z", "br", "dr", "gr", "kl", "pr", "st", "tr", "sh", "th"];
        private static readonly string[] Vowels = ["a", "e", "i", "o", "u", "ai", "ea", "ou", "ie"];
        private static readonly string[] Codas = ["", "", "", "n", "r", "s", "l", "m", "k", "nd", "st", "th"];
        private static readonly string[] FunctionWords =
            ["the", "a", "an", "this", "that", "every", "some", "these", "many", "all", "and", "but", "so", "when", "why",
             "did", "said", "in", "on", "near", "under", "with", "beyond", "from", "to", "of", "who", "still", "kept",
             "had", "belonged", "nobody", "someone", "asked", "for", "went", "back", "came", "lived", "there", "chapter"];
        private static readonly string[] SingularDeterminers = ["the", "a", "this", "that", "every"];
        private static readonly string[] PluralDeterminers = ["the", "some", "these", "many", "all"];
        private static readonly string[] Prepositions = ["in", "on", "near", "under", "with", "beyond", "from"];
        private static readonly string[] Conjunctions = ["and", "but", "so"];

        private readonly Rng rng;
        private readonly string[] nouns, verbs, adjectives, adverbs;
        private readonly ZipfTable nounZipf, verbZipf, adjectiveZipf, adverbZipf;
        private readonly int[][] verbsOfNoun, adjectivesOfNoun, objectsOfVerb;
        private readonly HashSet<string> lexicon = new(StringComparer.Ordinal);
        private int chapter;

        public readonly List<int> DocumentStarts = [];
        public readonly List<int> Introductions = [];
        public readonly List<(int End, int Distance)> Recalls = [];

        public Generator(ulong seed)
        {
            rng = new Rng(seed);
            foreach (var w in FunctionWords) lexicon.Add(w);
            nouns = Words(160, 1, 2);
            verbs = Words(64, 1, 2);
            adjectives = Words(48, 1, 2);
            adverbs = adjectives.Take(16).Select(a => a + "ly").ToArray();
            nounZipf = new ZipfTable(nouns.Length);
            verbZipf = new ZipfTable(verbs.Length);
            adjectiveZipf = new ZipfTable(adjectives.Length);
            adverbZipf = new ZipfTable(adverbs.Length);
            verbsOfNoun = Preferences(nouns.Length, verbs.Length, 3);
            adjectivesOfNoun = Preferences(nouns.Length, adjectives.Length, 2);
            objectsOfVerb = Preferences(verbs.Length, nouns.Length, 4);
        }

        private bool Chance(int percent) => rng.NextInt(100) < percent;

        private T Pick<T>(T[] items) => items[rng.NextInt(items.Length)];

        private string Syllables(int count)
        {
            var sb = new StringBuilder();
            for (int i = 0; i < count; i++) sb.Append(Pick(Onsets)).Append(Pick(Vowels)).Append(Pick(Codas));
            return sb.ToString();
        }

        private string[] Words(int count, int minSyllables, int maxSyllables)
        {
            var result = new string[count];
            for (int i = 0; i < count; i++)
            {
                string w;
                do w = Syllables(minSyllables + rng.NextInt(maxSyllables - minSyllables + 1));
                while (w.Length < 3 || !lexicon.Add(w));
                result[i] = w;
            }
            return result;
        }

        private int[][] Preferences(int from, int to, int per)
        {
            var result = new int[from][];
            for (int i = 0; i < from; i++)
            {
                result[i] = new int[per];
                for (int k = 0; k < per; k++) result[i][k] = rng.NextInt(to);
            }
            return result;
        }

        // ---- local grammar ----

        private static string Plural(string noun) => noun.EndsWith('s') || noun.EndsWith("sh", StringComparison.Ordinal) ? noun + "es" : noun + "s";

        private static string ThirdPerson(string verb) => Plural(verb);

        private static bool StartsWithVowel(string w) => "aeiou".Contains(w[0]);

        private int Noun() => nounZipf.Sample(rng);

        private string NounPhrase(int noun, bool plural, bool allowAdjective = true)
        {
            string? adjective = null;
            if (allowAdjective && Chance(40))
                adjective = Chance(70) ? adjectives[Pick(adjectivesOfNoun[noun])] : adjectives[adjectiveZipf.Sample(rng)];
            string head = plural ? Plural(nouns[noun]) : nouns[noun];
            string next = adjective ?? head;
            string det = plural ? Pick(PluralDeterminers) : Pick(SingularDeterminers);
            if (det == "a" && StartsWithVowel(next)) det = "an";
            return adjective is null ? $"{det} {head}" : $"{det} {adjective} {head}";
        }

        private int VerbFor(int subjectNoun) => Chance(75) ? Pick(verbsOfNoun[subjectNoun]) : verbZipf.Sample(rng);

        private int ObjectFor(int verb) => Chance(70) ? Pick(objectsOfVerb[verb]) : Noun();

        /// <summary>subject + verb (agreeing) + object + optional place + optional adverb.</summary>
        private string Clause()
        {
            int subject = Noun();
            bool plural = Chance(35);
            int verb = VerbFor(subject);
            var sb = new StringBuilder();
            sb.Append(NounPhrase(subject, plural)).Append(' ').Append(plural ? verbs[verb] : ThirdPerson(verbs[verb]));
            sb.Append(' ').Append(NounPhrase(ObjectFor(verb), Chance(30)));
            if (Chance(30)) sb.Append(' ').Append(Pick(Prepositions)).Append(' ').Append(NounPhrase(Noun(), false, allowAdjective: false));
            if (Chance(15)) sb.Append(' ').Append(adverbs[adverbZipf.Sample(rng)]);
            return sb.ToString();
        }

        private string FillerSentence()
        {
            int form = rng.NextInt(100);
            if (form < 55) return Capitalise(Clause()) + ".";
            if (form < 70) return Capitalise(Clause()) + ", " + Pick(Conjunctions) + " " + Clause() + ".";
            if (form < 80) return "When " + Clause() + ", " + Clause() + ".";
            if (form < 90)
            {
                int subject = Noun();
                int verb = VerbFor(subject);
                return "Why did " + NounPhrase(subject, Chance(35)) + " " + verbs[verb] + " " + NounPhrase(ObjectFor(verb), Chance(30)) + "?";
            }
            return "\"" + Capitalise(Clause()) + ",\" said the " + nouns[Noun()] + ".";
        }

        private static string Capitalise(string s) => char.ToUpperInvariant(s[0]) + s[1..];

        // ---- long-range facts ----

        private sealed class Entity
        {
            public required string Name;
            public required string Item;
            public required string Home;
            public bool Introduced;
            public int LastMention;
        }

        private string FreshName(HashSet<string> taken)
        {
            string name;
            do name = Capitalise(Syllables(2 + rng.NextInt(2)));
            while (name.Length < 5 || lexicon.Contains(name.ToLowerInvariant()) || !taken.Add(name));
            return name;
        }

        private string Introduction(Entity e) => rng.NextInt(3) switch
        {
            0 => $"There lived {e.Name}, who came from the {e.Home} and kept the {e.Item}.",
            1 => $"{e.Name} came from the {e.Home} and kept the {e.Item}.",
            _ => $"In the {e.Home} lived {e.Name}, who kept the {e.Item}.",
        };

        private string Recall(Entity e) => rng.NextInt(5) switch
        {
            0 => $"{e.Name} still kept the {e.Item}.",
            1 => $"Nobody but {e.Name} had the {e.Item}.",
            2 => $"The {e.Item} belonged to {e.Name}.",
            3 => $"{e.Name} went back to the {e.Home}.",
            _ => $"Someone from the {e.Home} asked for {e.Name}.",
        };

        /// <summary>Appends one document: a chapter heading, then sentences that introduce and recall its entities.</summary>
        public void Document(StringBuilder sb)
        {
            int start = sb.Length;
            DocumentStarts.Add(start);
            chapter++;
            int target = 2000 + rng.NextInt(3000);
            var taken = new HashSet<string>(StringComparer.Ordinal);
            var entities = new Entity[3 + rng.NextInt(3)];
            for (int i = 0; i < entities.Length; i++)
            {
                int item = Noun();
                string itemAdjective = adjectives[Chance(50) ? Pick(adjectivesOfNoun[item]) : adjectiveZipf.Sample(rng)];
                entities[i] = new Entity { Name = FreshName(taken), Item = $"{itemAdjective} {nouns[item]}", Home = nouns[rng.NextInt(nouns.Length)] };
            }
            sb.Append("Chapter ").Append(chapter.ToString(System.Globalization.CultureInfo.InvariantCulture)).Append(".\n");
            int introduced = 0;
            bool lineStart = true;
            while (sb.Length - start < target || introduced < entities.Length)
            {
                int offset = sb.Length - start;
                string sentence;
                Entity? mentioned = null;
                if (introduced < entities.Length && (Chance(25) || offset >= target * 2 / 5))
                {
                    mentioned = entities[introduced++];
                    mentioned.Introduced = true;
                    Introductions.Add(sb.Length);
                    sentence = Introduction(mentioned);
                }
                else
                {
                    var eligible = entities.Where(e => e.Introduced && sb.Length - e.LastMention >= 120).ToArray();
                    if (eligible.Length > 0 && Chance(30))
                    {
                        mentioned = Pick(eligible);
                        int distance = sb.Length + (lineStart ? 0 : 1) - mentioned.LastMention;
                        sentence = Recall(mentioned);
                        Recalls.Add((sb.Length + sentence.Length + 1, distance));
                    }
                    else sentence = FillerSentence();
                }
                if (!lineStart) sb.Append(' ');
                if (mentioned is not null) mentioned.LastMention = sb.Length;
                sb.Append(sentence);
                lineStart = Chance(20);
                if (lineStart) sb.Append('\n');
            }
            if (!lineStart) sb.Append('\n');
            sb.Append('\n');
        }
    }

    /// <summary>Integer Zipf sampler: rank r has weight ⌊2^20 / (r + 1)⌋, so sampling is exact on every machine.</summary>
    private sealed class ZipfTable
    {
        private readonly int[] cumulative;

        public ZipfTable(int n)
        {
            cumulative = new int[n];
            int total = 0;
            for (int r = 0; r < n; r++) cumulative[r] = total += (1 << 20) / (r + 1);
        }

        public int Sample(Rng rng)
        {
            int u = rng.NextInt(cumulative[^1]);
            int i = Array.BinarySearch(cumulative, u + 1);
            return i >= 0 ? i : ~i;
        }
    }
}
