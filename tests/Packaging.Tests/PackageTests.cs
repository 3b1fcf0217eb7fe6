using System.Globalization;
using System.IO.Compression;
using System.Text.RegularExpressions;
using System.Xml.Linq;

namespace Engine.Packaging.Tests;

/// <summary>
/// What a user of the packages gets: exactly the three libraries and the tool, each with its README, licence, XML docs
/// and symbols, and packages that work: a console app built against them trains a tiny GPT, and the tool installs
/// and trains.
/// </summary>
public sealed partial class PackageTests(PackedRepository packed) : IClassFixture<PackedRepository>
{
    private static readonly string[] Libraries = ["Engine.Tensors", "Engine.Nn", "Engine.Cuda"];

    [Fact]
    public void OnlyTheLibrariesAndTheToolPack()
    {
        var files = Directory.GetFiles(packed.Packages).Select(Path.GetFileName).Order().ToArray();
        string[] expected = [.. Libraries.Append("Engine.Gpt").SelectMany(id => new[] { $"{id}.{packed.Version}.nupkg", $"{id}.{packed.Version}.snupkg" }).Order()];
        Assert.Equal(expected, files);
    }

    [Theory]
    [InlineData("Engine.Tensors")]
    [InlineData("Engine.Nn")]
    [InlineData("Engine.Cuda")]
    [InlineData("Engine.Gpt")]
    public void EachPackageCarriesItsMetadataReadmeLicenseAndSymbols(string id)
    {
        using var zip = ZipFile.OpenRead(Path.Combine(packed.Packages, $"{id}.{packed.Version}.nupkg"));
        var names = zip.Entries.Select(e => e.FullName).ToHashSet();
        Assert.Contains("README.md", names);
        Assert.Contains("LICENSE", names);
        XElement root;
        using (var nuspec = zip.GetEntry($"{id}.nuspec")!.Open()) root = XDocument.Load(nuspec).Root!;
        var ns = root.Name.Namespace;   // the nuspec schema version differs between packages
        var metadata = root.Element(ns + "metadata")!;
        Assert.Equal(id, metadata.Element(ns + "id")?.Value);
        Assert.Equal(packed.Version, metadata.Element(ns + "version")?.Value);
        Assert.Equal("MIT", metadata.Element(ns + "license")?.Value);
        Assert.Equal("README.md", metadata.Element(ns + "readme")?.Value);
        Assert.False(string.IsNullOrWhiteSpace(metadata.Element(ns + "description")?.Value), $"{id} has no description");
        using (var reader = new StreamReader(zip.GetEntry("README.md")!.Open()))
            Assert.Contains("dotnet add package Engine.Nn", reader.ReadToEnd());
        if (id == "Engine.Gpt")
        {
            Assert.Contains(metadata.Element(ns + "packageTypes")?.Elements(ns + "packageType") ?? [], t => t.Attribute("name")?.Value == "DotnetTool");
            Assert.Contains("tools/net10.0/any/gpt.dll", names);
            Assert.Contains("tools/net10.0/any/DotnetToolSettings.xml", names);
        }
        else
        {
            Assert.Contains($"lib/net10.0/{id}.dll", names);
            Assert.Contains($"lib/net10.0/{id}.xml", names);   // XML docs for IntelliSense
        }
        using var symbols = ZipFile.OpenRead(Path.Combine(packed.Packages, $"{id}.{packed.Version}.snupkg"));
        string assembly = id == "Engine.Gpt" ? "gpt" : id;
        Assert.Contains(symbols.Entries, e => e.FullName.EndsWith($"/{assembly}.pdb", StringComparison.Ordinal));
    }

    [Fact]
    public void AConsoleAppBuiltAgainstThePackagesTrainsATinyGpt()
    {
        string app = Path.Combine(packed.Root, "consumer");
        Directory.CreateDirectory(app);
        File.WriteAllText(Path.Combine(app, "Consumer.csproj"), $"""
            <Project Sdk="Microsoft.NET.Sdk">
              <PropertyGroup>
                <OutputType>Exe</OutputType>
                <TargetFramework>net10.0</TargetFramework>
                <Nullable>enable</Nullable>
                <ImplicitUsings>enable</ImplicitUsings>
                <TreatWarningsAsErrors>true</TreatWarningsAsErrors>
                <!-- The audit needs the network; offline its warning would be an error here. -->
                <NuGetAudit>false</NuGetAudit>
              </PropertyGroup>
              <ItemGroup>
                <PackageReference Include="Engine.Nn" Version="{packed.Version}" />
                <PackageReference Include="Engine.Cuda" Version="{packed.Version}" />
              </ItemGroup>
            </Project>
            """);
        // The example of the packages' README (docs/packages.md), at three steps.
        File.WriteAllText(Path.Combine(app, "Program.cs"), """
            using Engine.Nn;
            using Engine.Nn.Data;
            using Engine.Nn.Training;

            var data = TextDataset.Synthetic(new SyntheticCorpusOptions { Characters = 20_000 });
            var model = new GptConfig { ContextLength = 32, Layers = 2, Heads = 4, ModelDim = 64 };
            var trainer = new Trainer(model, new TrainerConfig { BatchSize = 8, Steps = 3, EvalTokens = 1024 }, data);
            for (int i = 0; i < 3; i++)
            {
                var step = trainer.TrainStep();
                Console.WriteLine($"step {step.Step}: loss {step.Loss:F4}");
            }
            Console.WriteLine($"cuda available: {Engine.Cuda.Cuda.IsAvailable}");
            """);
        string output = Dotnet.Run(app, PackedRepository.Timeout, "run", "-c", "Release", "-nr:false");
        var losses = StepLine().Matches(output).Select(m => double.Parse(m.Groups[2].Value, CultureInfo.InvariantCulture)).ToList();
        Assert.True(losses.Count == 3, $"expected three 'step N: loss X' lines from the consumer app, got:\n{output}");
        Assert.All(losses, l => Assert.InRange(l, 0.1, 20));
        Assert.Contains("cuda available: ", output);
    }

    [Fact]
    public void TheToolInstallsFromThePackagesAndTrains()
    {
        string tools = Path.Combine(packed.Root, "tools");
        Dotnet.Run(packed.Root, PackedRepository.Timeout, "tool", "install", "Engine.Gpt", "--tool-path", tools, "--version", packed.Version, "--add-source", packed.Packages);
        string gpt = Path.Combine(tools, OperatingSystem.IsWindows() ? "gpt.exe" : "gpt");
        Assert.True(File.Exists(gpt), $"dotnet tool install left no {gpt}");

        string help = Dotnet.Exec(gpt, packed.Root, PackedRepository.Timeout, "--help");
        Assert.Contains("USAGE:", help);
        Assert.Contains("extrapolate", help);

        string run = Path.Combine(packed.Root, "run");
        string train = Dotnet.Exec(gpt, packed.Root, PackedRepository.Timeout, "train", "--steps", "2", "--layers", "1", "--heads", "2", "--dim", "16",
            "--context", "16", "--batch", "2", "--synthetic-chars", "4000", "--eval-tokens", "256", "--out", run);
        Assert.True(File.Exists(Path.Combine(run, "log.csv")), $"gpt train wrote no log.csv:\n{train}");
    }

    [GeneratedRegex(@"^step (\d+): loss ([0-9.]+)\s*$", RegexOptions.Multiline)]
    private static partial Regex StepLine();
}
