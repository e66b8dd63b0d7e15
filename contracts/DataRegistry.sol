// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.28;

import {ECDSA} from "@openzeppelin/contracts/utils/cryptography/ECDSA.sol";
import {EIP712} from "@openzeppelin/contracts/utils/cryptography/EIP712.sol";
import {MerkleProof} from "@openzeppelin/contracts/utils/cryptography/MerkleProof.sol";
import {SignatureChecker} from "@openzeppelin/contracts/utils/cryptography/SignatureChecker.sol";
import {ProtocolParams} from "./ProtocolParams.sol";

/// @title DataRegistry
/// @notice Registers datasets by an EIP-712 signed `DatasetAttestation` (anyone may relay; the signer becomes
///         the contributor), proves single records against a dataset's Merkle root, records quality
///         attestations by approved validators, and lets governance admit datasets to allowed sectors.
///         A dataset registers only in an open sector (allowed in ProtocolParams): governance opens and
///         retires sectors (`ProtocolParams.setSector`), and a retired sector takes no new datasets.
/// @dev EIP-712 domain: name "Agora DataRegistry", version "1". The typed struct is exactly
///      `DatasetAttestation(bytes32 root,uint64 records,uint64 bytes,string licence,string sector,bytes32 manifestHash,address contributor,uint256 deadline)`.
///      The Solidity field for `bytes` is named `byteCount` (`bytes` is a reserved word); its position and
///      type are what EIP-712 and the ABI use. Record leaves are OpenZeppelin StandardMerkleTree leaves for
///      ["uint256","bytes32"]: keccak256(bytes.concat(keccak256(abi.encode(index, contentHash)))).
///      Gas: (licence, sector) pairs are interned (stored once, referenced by a uint32 id) so that a
///      registration writes four fresh storage slots (id->root, and three packed slots keyed by root that
///      also hold the id), whatever the dataset's size.
///      Replay: the attestation carries no nonce. A registration is keyed by its root, a root registers
///      at most once (a second try reverts with DuplicateRoot, and nothing removes a registration), and
///      every attestation has a deadline; the signature binds all fields, the chain id and this contract.
///      So a signed attestation can produce at most one registration, and only this exact one: replaying
///      or relaying it again, on this or any other chain or registry, is refused. A per-contributor
///      nonce would add nothing but a storage write (a fresh slot, ~22k gas, on a contributor's first
///      dataset). The one thing it did add, that registering one attestation voided the contributor's
///      other outstanding ones, is not a safety property here (each attestation can only ever register
///      its own root, with the contents the contributor signed); an attestation the contributor no
///      longer wants submitted lapses at its deadline, so sign with short deadlines.
contract DataRegistry is EIP712 {
    /// @notice The signed attestation of a dataset (see the contract notes for the EIP-712 type string).
    struct DatasetAttestation {
        bytes32 root;
        uint64 records;
        uint64 byteCount;
        string licence;
        string sector;
        bytes32 manifestHash;
        address contributor;
        uint256 deadline;
    }

    /// @notice A registered dataset as returned by {getDataset}.
    struct Dataset {
        bytes32 root;
        uint64 records;
        uint64 byteCount;
        string licence;
        string sector;
        bytes32 manifestHash;
        address contributor;
        uint64 registeredAt;
    }

    /// @notice A validator's latest quality attestation for a dataset.
    struct Quality {
        uint16 score;
        uint48 attestedAt;
        bytes32 reportHash;
    }

    struct Stored {
        bytes32 manifestHash;
        address contributor;
        uint64 records;
        uint32 registeredAt;
        uint64 byteCount;
        uint32 termsId;
        uint64 id;
    }

    /// @notice EIP-712 type hash of DatasetAttestation.
    bytes32 public constant ATTESTATION_TYPEHASH = keccak256(
        "DatasetAttestation(bytes32 root,uint64 records,uint64 bytes,string licence,string sector,bytes32 manifestHash,address contributor,uint256 deadline)"
    );
    /// @notice Highest quality score (basis points: 10000 = perfect).
    uint16 public constant MAX_SCORE = 10_000;

    /// @notice Governance parameters (owner = timelock; validators; allowed sectors).
    ProtocolParams public immutable params;
    /// @notice Number of registered datasets; ids run 1..datasetCount.
    uint256 public datasetCount;

    mapping(uint256 id => bytes32) private _rootOf;
    mapping(bytes32 root => Stored) private _byRoot;
    /// @dev Interned (licence, sector) pairs: registrations store a uint32 id instead of two strings.
    struct Terms {
        string licence;
        string sector;
    }

    Terms[] private _terms;
    mapping(bytes32 termsHash => uint32) private _termsId;
    mapping(uint256 id => mapping(address validator => Quality)) private _quality;
    mapping(uint256 id => mapping(bytes32 sectorHash => bool)) private _admitted;

    /// @notice A dataset was registered (read licence, sector, records and bytes with {getDataset}, or
    ///         join `termsId` with {TermsInterned}).
    event DatasetRegistered(
        uint256 indexed datasetId, bytes32 indexed root, address indexed contributor, bytes32 manifestHash, uint32 termsId
    );
    /// @notice A (licence, sector) pair was seen for the first time and given an id.
    event TermsInterned(uint32 indexed termsId, string licence, string sector);
    /// @notice An approved validator attested a dataset's quality.
    event QualityAttested(uint256 indexed datasetId, address indexed validator, uint16 score, bytes32 reportHash);
    /// @notice Governance admitted a dataset to a sector (`admitted` true) or removed it.
    event SectorAdmission(uint256 indexed datasetId, bytes32 indexed sectorHash, string sector, bool admitted);

    /// @notice The attestation's deadline has passed.
    error AttestationExpired(uint256 deadline, uint256 nowTs);
    /// @notice The signature is not the contributor's.
    error WrongSigner(address recovered, address contributor);
    /// @notice A dataset with this Merkle root is already registered.
    error DuplicateRoot(bytes32 root, uint256 existingId);
    /// @notice Root, contributor or record count is empty.
    error EmptyAttestation();
    /// @notice No dataset has this id.
    error UnknownDataset(uint256 datasetId);
    /// @notice The caller is not an approved validator.
    error NotValidator(address caller);
    /// @notice The caller is not governance (the timelock).
    error NotGovernance(address caller);
    /// @notice The sector is not on governance's allowed list.
    error SectorNotAllowed(string sector);
    /// @notice A quality score above MAX_SCORE.
    error ScoreOutOfRange(uint16 score);

    /// @notice Creates the registry.
    /// @param protocolParams The governance parameters contract.
    constructor(ProtocolParams protocolParams) EIP712("Agora DataRegistry", "1") {
        params = protocolParams;
    }

    /// @notice Registers a dataset from its contributor's signed attestation; anyone may submit it.
    ///         Its sector must be open (allowed by governance in ProtocolParams).
    ///         No nonce: the root registers at most once and the deadline bounds the signature's life,
    ///         so an attestation can never be replayed into a second registration (see the contract notes).
    /// @param a The attestation (its deadline must not have passed; its root must not be registered yet).
    /// @param signature The contributor's EIP-712 signature (EOA; ERC-1271 for contract wallets).
    /// @return datasetId The new dataset's id (ids start at 1).
    function registerDataset(DatasetAttestation calldata a, bytes calldata signature)
        external
        returns (uint256 datasetId)
    {
        if (block.timestamp > a.deadline) revert AttestationExpired(a.deadline, block.timestamp);
        if (a.root == bytes32(0) || a.contributor == address(0) || a.records == 0) revert EmptyAttestation();
        Stored storage s = _byRoot[a.root];
        if (s.contributor != address(0)) revert DuplicateRoot(a.root, _idOfRoot(a.root));
        bytes32 licenceHash = keccak256(bytes(a.licence));
        bytes32 sectorHash = keccak256(bytes(a.sector));
        if (!params.isSectorHashAllowed(sectorHash)) revert SectorNotAllowed(a.sector);
        bytes32 digest = _attestationDigest(a, licenceHash, sectorHash);
        (address recovered,,) = ECDSA.tryRecoverCalldata(digest, signature);
        if (recovered != a.contributor) {
            if (a.contributor.code.length == 0 || !SignatureChecker.isValidERC1271SignatureNow(a.contributor, digest, signature)) {
                revert WrongSigner(recovered, a.contributor);
            }
        }
        datasetId = ++datasetCount;
        _rootOf[datasetId] = a.root;
        s.manifestHash = a.manifestHash;
        s.contributor = a.contributor;
        s.records = a.records;
        s.registeredAt = uint32(block.timestamp);
        s.byteCount = a.byteCount;
        uint32 termsId = _intern(licenceHash, sectorHash, a.licence, a.sector);
        s.termsId = termsId;
        s.id = uint64(datasetId);
        emit DatasetRegistered(datasetId, a.root, a.contributor, a.manifestHash, termsId);
    }

    /// @notice Checks that record `index` with `contentHash` belongs to dataset `datasetId`.
    /// @param datasetId The dataset.
    /// @param index The record's index in the dataset.
    /// @param contentHash The record's content hash.
    /// @param proof StandardMerkleTree proof (sorted-pair hashing).
    /// @return True when the proof is valid for the dataset's root.
    function verifyRecord(uint256 datasetId, uint256 index, bytes32 contentHash, bytes32[] calldata proof)
        external
        view
        returns (bool)
    {
        bytes32 root = _rootOf[datasetId];
        if (root == bytes32(0)) revert UnknownDataset(datasetId);
        bytes32 leaf = keccak256(bytes.concat(keccak256(abi.encode(index, contentHash))));
        return MerkleProof.verifyCalldata(proof, root, leaf);
    }

    /// @notice A registered dataset.
    /// @param datasetId The dataset id.
    /// @return d The dataset's stored fields.
    function getDataset(uint256 datasetId) external view returns (Dataset memory d) {
        bytes32 root = _rootOf[datasetId];
        if (root == bytes32(0)) revert UnknownDataset(datasetId);
        Stored storage s = _byRoot[root];
        Terms storage t = _terms[s.termsId - 1];
        d = Dataset({
            root: root,
            records: s.records,
            byteCount: s.byteCount,
            licence: t.licence,
            sector: t.sector,
            manifestHash: s.manifestHash,
            contributor: s.contributor,
            registeredAt: s.registeredAt
        });
    }

    /// @notice The contributor of a dataset (reverts for unknown ids).
    /// @param datasetId The dataset id.
    /// @return The contributor address.
    function contributorOf(uint256 datasetId) external view returns (address) {
        bytes32 root = _rootOf[datasetId];
        if (root == bytes32(0)) revert UnknownDataset(datasetId);
        return _byRoot[root].contributor;
    }

    /// @notice The id of the dataset with this root, or 0 when none.
    /// @param root A dataset Merkle root.
    /// @return The dataset id, or 0.
    function datasetIdOf(bytes32 root) external view returns (uint256) {
        if (_byRoot[root].contributor == address(0)) return 0;
        return _idOfRoot(root);
    }

    /// @notice Whether `datasetId` exists.
    /// @param datasetId The dataset id.
    /// @return True when registered.
    function exists(uint256 datasetId) external view returns (bool) {
        return _rootOf[datasetId] != bytes32(0);
    }

    /// @notice An approved validator attests a dataset's quality (overwrites its previous attestation).
    /// @param datasetId The dataset.
    /// @param score Quality score, 0..10000.
    /// @param reportHash Hash of the validator's off-chain report.
    function attestQuality(uint256 datasetId, uint16 score, bytes32 reportHash) external {
        if (!params.isValidator(msg.sender)) revert NotValidator(msg.sender);
        if (_rootOf[datasetId] == bytes32(0)) revert UnknownDataset(datasetId);
        if (score > MAX_SCORE) revert ScoreOutOfRange(score);
        _quality[datasetId][msg.sender] =
            Quality({score: score, attestedAt: uint48(block.timestamp), reportHash: reportHash});
        emit QualityAttested(datasetId, msg.sender, score, reportHash);
    }

    /// @notice A validator's latest quality attestation for a dataset (zeroes when none).
    /// @param datasetId The dataset.
    /// @param validator The validator.
    /// @return The attestation.
    function qualityOf(uint256 datasetId, address validator) external view returns (Quality memory) {
        return _quality[datasetId][validator];
    }

    /// @notice Governance admits a dataset to a sector; the sector must be allowed in ProtocolParams.
    /// @param datasetId The dataset.
    /// @param sector The sector name.
    function admitToSector(uint256 datasetId, string calldata sector) external {
        _onlyGovernance();
        if (_rootOf[datasetId] == bytes32(0)) revert UnknownDataset(datasetId);
        if (!params.isSectorAllowed(sector)) revert SectorNotAllowed(sector);
        bytes32 h = keccak256(bytes(sector));
        _admitted[datasetId][h] = true;
        emit SectorAdmission(datasetId, h, sector, true);
    }

    /// @notice Governance removes a dataset from a sector.
    /// @param datasetId The dataset.
    /// @param sector The sector name.
    function removeFromSector(uint256 datasetId, string calldata sector) external {
        _onlyGovernance();
        if (_rootOf[datasetId] == bytes32(0)) revert UnknownDataset(datasetId);
        bytes32 h = keccak256(bytes(sector));
        _admitted[datasetId][h] = false;
        emit SectorAdmission(datasetId, h, sector, false);
    }

    /// @notice Whether a dataset is admitted to a sector.
    /// @param datasetId The dataset.
    /// @param sector The sector name.
    /// @return True when admitted (and the sector is still allowed).
    function isAdmitted(uint256 datasetId, string calldata sector) external view returns (bool) {
        bytes32 h = keccak256(bytes(sector));
        return _admitted[datasetId][h] && params.isSectorHashAllowed(h);
    }

    /// @notice The EIP-712 domain separator (chain id and this contract's address bound in).
    /// @return The domain separator.
    // solhint-disable-next-line func-name-mixedcase
    function DOMAIN_SEPARATOR() external view returns (bytes32) {
        return _domainSeparatorV4();
    }

    function _attestationDigest(DatasetAttestation calldata a, bytes32 licenceHash, bytes32 sectorHash)
        private
        view
        returns (bytes32)
    {
        return _hashTypedDataV4(
            keccak256(
                abi.encode(
                    ATTESTATION_TYPEHASH,
                    a.root,
                    a.records,
                    a.byteCount,
                    licenceHash,
                    sectorHash,
                    a.manifestHash,
                    a.contributor,
                    a.deadline
                )
            )
        );
    }

    function _onlyGovernance() private view {
        if (msg.sender != params.owner()) revert NotGovernance(msg.sender);
    }

    function _intern(bytes32 licenceHash, bytes32 sectorHash, string calldata licence, string calldata sector)
        private
        returns (uint32 id)
    {
        bytes32 key = keccak256(abi.encode(licenceHash, sectorHash));
        id = _termsId[key];
        if (id == 0) {
            _terms.push(Terms({licence: licence, sector: sector}));
            id = uint32(_terms.length);
            _termsId[key] = id;
            emit TermsInterned(id, licence, sector);
        }
    }

    function _idOfRoot(bytes32 root) private view returns (uint256) {
        return _byRoot[root].id;
    }
}
